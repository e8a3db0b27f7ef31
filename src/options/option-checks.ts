import { MAX_TIMER_MS } from '../common/heartbeat.constants.js';
import { invalidOption, unknownOption } from '../common/heartbeat.messages.js';

/**
 * The one set of option checks. Each takes the option's path (for the message), the value given
 * and the default, and returns the value to use or throws a TypeError naming the option: a bad
 * value fails the boot, never a connection later.
 */

const fail = (path: string, rule: string, value: unknown): never => {
  throw new TypeError(invalidOption(path, rule, value));
};

export function number(path: string, value: unknown, fallback: number, ok: (n: number) => boolean, rule: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) fail(path, rule, value);
  return value as number;
}

export function integer(path: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const rule = max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`;
  return number(path, value, fallback, (n) => Number.isInteger(n) && n >= min && n <= max, rule);
}

/** A duration a timer will wait: Node fires anything above 2³¹−1 ms after 1 ms. */
export function duration(path: string, value: unknown, fallback: number, min: number): number {
  return number(path, value, fallback, (n) => n >= min && n <= MAX_TIMER_MS, `must be a number of ms from ${min} to ${MAX_TIMER_MS}`);
}

/** The kernel counts TCP_KEEPIDLE and TCP_KEEPINTVL in whole seconds. */
export function seconds(path: string, value: unknown, fallback: number): number {
  return number(path, value, fallback, (n) => n >= 1000 && n % 1000 === 0,
    'must be a whole number of seconds in ms (>= 1000, multiple of 1000)');
}

/**
 * A TCP port. A string of digits is accepted too: ports usually come from the environment or a
 * config service, as strings (`config.get('PORT')`).
 */
export function port(path: string, value: unknown, fallback: number, min: 0 | 1): number {
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  return integer(path, n, fallback, min, 65535);
}

export function boolean(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(path, 'must be a boolean', value);
  return value as boolean;
}

export function string(path: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) fail(path, 'must be a non-empty string', value);
  return value as string;
}

export function optionalString(path: string, value: unknown): string | undefined {
  return value === undefined ? undefined : string(path, value, '');
}

export function oneOf<T extends string>(path: string, value: unknown, fallback: T, values: readonly T[]): T {
  if (value === undefined) return fallback;
  if (!values.includes(value as T)) fail(path, `must be one of ${values.map((v) => `'${v}'`).join(', ')}`, value);
  return value as T;
}

export function optionalFunction<T extends (...args: never[]) => unknown>(path: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') fail(path, 'must be a function', typeof value);
  return value as T;
}

/** A group of options: undefined (all defaults) or a plain object whose keys are all known. */
export function group<T extends object>(path: string, value: unknown, known: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(path || 'options', 'must be an object', value);
  }
  for (const key of Object.keys(value as object)) {
    if (!known.includes(key)) throw new TypeError(unknownOption(path ? `${path}.${key}` : key, nearest(key, known)));
  }
  return value as Partial<T>;
}

/** The known key closest to a misspelt one, if any is close: case first (`intervalMS`), then edits. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

/** Levenshtein distance (short strings: option names). */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}
