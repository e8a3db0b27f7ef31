/**
 * The test's own clock and its own account of this process's event-loop stalls.
 *
 * Timing bounds must not be widened by values the code under test reports about itself (a
 * detector that over-reported its stall would loosen its own bound). The contract lets the
 * thresholds stretch by the lag of the detecting process's loop; the detector runs in this
 * process, so this meter sees the same stalls, measured independently.
 */
import { performance } from 'node:perf_hooks';

/** Epoch ms, sub-millisecond, monotonic within the process. */
export const testNow = (): number => performance.timeOrigin + performance.now();

export class LagMeter {
  /** [end, blocked ms] of each late timer callback beyond the slack. */
  private readonly stalls: Array<[number, number]> = [];
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  /** `periodMs`: timer period; lateness up to `slackMs` is scheduling noise, not a stall. */
  constructor(private readonly periodMs = 5, private readonly slackMs = 5) {}

  start(): this {
    this.last = testNow();
    this.timer = setInterval(() => {
      const now = testNow();
      const late = now - this.last - this.periodMs;
      if (late > this.slackMs) this.stalls.push([now, late]);
      this.last = now;
      if (this.stalls.length > 10_000) this.stalls.splice(0, 5_000);
    }, this.periodMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Total stall (ms) of stalls that ended after `from` (epoch ms), up to now. */
  blockedSince(from: number): number {
    // A stall still in progress is not visible yet; the caller reads this from a callback, which
    // only runs once the loop is free again, so the interval timer has usually caught up.
    let total = 0;
    for (const [end, ms] of this.stalls) if (end > from) total += ms;
    const pending = testNow() - this.last - this.periodMs;
    return total + (pending > this.slackMs ? pending : 0);
  }
}
