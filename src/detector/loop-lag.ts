/**
 * Remembers when this process's event loop was blocked, from how late the shared tick fired.
 *
 * After a stall the timer phase runs before the poll phase reads the frames that queued up
 * meanwhile, so a link's silence includes time in which we could not read. `blockedSince(t)`
 * is that time, and the detector stretches a link's thresholds by it.
 */
export class LoopLag {
  /** End time and length of each stall, oldest first. */
  private readonly ends: number[] = [];
  private readonly lengths: number[] = [];

  /**
   * @param minStallMs lateness below this is timer jitter, not a stall (one tick).
   * @param keepMs stalls older than this are forgotten (longer than any link can stay silent unjudged).
   */
  constructor(private readonly minStallMs: number, private readonly keepMs: number) {}

  /** Records a tick that fired at `now` but was due at `dueAt`. */
  record(now: number, dueAt: number): void {
    const late = now - dueAt;
    if (late > this.minStallMs) {
      this.ends.push(now);
      this.lengths.push(late);
    }
    while (this.ends.length > 0 && now - this.ends[0] > this.keepMs) {
      this.ends.shift();
      this.lengths.shift();
    }
  }

  /** Total length of the stalls that ended after `t`. */
  blockedSince(t: number): number {
    let sum = 0;
    for (let i = this.ends.length - 1; i >= 0 && this.ends[i] > t; i--) sum += this.lengths[i];
    return sum;
  }
}
