import { createHash, timingSafeEqual } from 'node:crypto';

/** Constant-time token check: digests make both sides equal length, so length leaks nothing either. */
export function tokenMatches(expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(presented).digest();
  return timingSafeEqual(a, b);
}
