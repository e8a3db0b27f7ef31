/**
 * Reconnect delay after `attempt` failures (0 = first retry): exponential, capped, with jitter so
 * many clients of one restarted server do not reconnect in step.
 * Result lies in [base × (1 − jitter), base × (1 + jitter)] ∩ [0, maxDelayMs], base = initial × factor^attempt.
 */
export function backoffDelay(
  attempt: number,
  o: { initialDelayMs: number; maxDelayMs: number; factor: number; jitter: number },
  random: () => number = Math.random,
): number {
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * o.factor ** Math.max(0, attempt));
  return Math.round(Math.min(o.maxDelayMs, base * (1 + o.jitter * (2 * random() - 1))));
}
