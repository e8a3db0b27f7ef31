import type { ResolvedClientOptions } from '../options/resolved-options.js';

type BackoffOptions = ResolvedClientOptions['reconnect'];

/**
 * Reconnect delay after `attempt` failures (0 = first retry): exponential, capped, with jitter so
 * many clients of one restarted server do not reconnect in step.
 * Result lies in [base × (1 − jitter), base × (1 + jitter)] ∩ [0, maxDelayMs], base = initial × factor^attempt.
 */
export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * o.factor ** Math.max(0, attempt));
  return Math.round(Math.min(o.maxDelayMs, base * (1 + o.jitter * (2 * random() - 1))));
}

/** The failures since the last success, and the delay each one earns (grpc-js keeps its backoff in such a class). */
export class Backoff {
  private failures = 0;

  constructor(readonly options: BackoffOptions, private readonly random: () => number = Math.random) {}

  /** Failures counted since the last reset. */
  get attempt(): number {
    return this.failures;
  }

  /** Counts one more failure; returns the delay before the next attempt. */
  next(): number {
    return backoffDelay(this.failures++, this.options, this.random);
  }

  reset(): void {
    this.failures = 0;
  }
}
