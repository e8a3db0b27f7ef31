import type { OnApplicationShutdown } from '@nestjs/common';
import { asyncScheduler, interval, type SchedulerLike, type Subscription } from 'rxjs';
import type { DetectionRule } from './failure-detector.js';
import { LoopLag } from './loop-lag.js';

/** Anything the shared tick drives. */
export interface TickTarget {
  /** Called by a tick; returns the clock reading before which it has nothing to do. */
  onTick(now: number): number;
  /** The ticker's bookkeeping: the wheel slot the target waits in, NOT_TICKED when none. */
  tickSlot: number;
  /** The ticker's bookkeeping: the token the target was last put off with (see putOff). */
  tickToken: number;
}

/**
 * The targets of one wheel slot. The array is kept and overwritten from the start each time
 * round (bench B2: a fresh array per tick, grown by push to a tenth of all links and kept for an
 * interval, was garbage that survived young-generation collections).
 */
interface Slot {
  targets: Array<TickTarget | undefined>;
  size: number;
}
const emptySlot = (): Slot => ({ targets: [], size: 0 });

/** `performance.timeOrigin` is a getter call; it never changes. */
const TIME_ORIGIN = performance.timeOrigin;

/** A target's `tickSlot` when it is not driven by the ticker. */
export const NOT_TICKED = -1;

/**
 * Slots of the wheel, in ticks. A target due further ahead waits in the last slot and is asked
 * again then (a handshake deadline is the only such case: every other wait is at most one interval).
 */
const WHEEL_SLOTS = 64;

/**
 * The detector's clock: one shared RxJS interval for every link of the process, not a timer
 * per peer, so the number of timers does not grow with the number of peers. It runs only while
 * there are links, and measures its own lateness as this process's event-loop lag. It decides
 * nothing: the rule is in failure-detector.ts.
 *
 * A tick visits only the links that can have something due (a timing wheel of slots one tick
 * wide): each link says when it next can, so an idle link is visited about once an interval
 * instead of on every tick (bench B2: scanning 20,000 links ten times a second was ~5 % of the
 * server's busy time).
 */
export class HeartbeatTicker implements OnApplicationShutdown {
  readonly tickMs: number;
  /** Slot k (absolute: time / tickMs) is wheel[k % WHEEL_SLOTS]; entries whose target moved on are skipped. */
  private readonly wheel: Slot[] = Array.from({ length: WHEEL_SLOTS }, emptySlot);
  /** The slot being emptied by a tick is swapped for this one, then becomes the spare. */
  private spare: Slot = emptySlot();
  /** The first slot no tick has processed yet. */
  private nextSlot = 0;
  private count = 0;
  private readonly lag: LoopLag;
  private subscription: Subscription | undefined;
  private dueAt = 0;
  /**
   * While a late tick covers several slots, targets placed (re-placed after their visit, woken,
   * added) wait here and join the wheel when it ends: a slot this tick has still to empty can
   * share a ring position with their new one, and emptying it would drop them.
   */
  private placing: Set<TickTarget> | undefined;

  /** Provided by the module from the resolved rule; `scheduler` is virtual time in tests. */
  constructor(rule: Pick<DetectionRule, 'tickMs' | 'lostAfterMs'>, private readonly scheduler: SchedulerLike = asyncScheduler) {
    this.tickMs = rule.tickMs;
    // Forget a stall once no link could still be judged on a silence that spans it.
    this.lag = new LoopLag(this.tickMs, 4 * rule.lostAfterMs);
  }

  /** The RxJS scheduler time runs on (virtual in tests). */
  get rxScheduler(): SchedulerLike {
    return this.scheduler;
  }

  /** Epoch ms; sub-millisecond on real time, so loopback RTTs are not all 0. */
  now(): number {
    return this.scheduler === asyncScheduler ? TIME_ORIGIN + performance.now() : this.scheduler.now();
  }

  /** Time this process's loop was blocked after `t`. */
  blockedSince(t: number): number {
    return this.lag.blockedSince(t);
  }

  /**
   * Runs `fn` once after `ms` on this clock; returns a cancel function. On real time the timer
   * is unref'd (a pending expiry never keeps the process alive) unless `keepAlive`: a client
   * waiting to reconnect, or a request waiting for its link, is work the process still has.
   */
  after(ms: number, fn: () => void, keepAlive = false): () => void {
    if (this.scheduler !== asyncScheduler) {
      const action = this.scheduler.schedule(fn, ms);
      return () => action.unsubscribe();
    }
    const timer = setTimeout(fn, ms);
    if (!keepAlive) timer.unref();
    return () => clearTimeout(timer);
  }

  get size(): number {
    return this.count;
  }

  get running(): boolean {
    return this.subscription !== undefined;
  }

  /** Drives `target` from the next tick on. */
  add(target: TickTarget): void {
    if (target.tickSlot !== NOT_TICKED) return;
    if (!this.subscription) {
      this.nextSlot = this.slotOf(this.now()) + 1;
      this.dueAt = this.now() + this.tickMs;
      this.subscription = interval(this.tickMs, this.scheduler).subscribe(() => this.tick());
    }
    this.count++;
    this.place(target, this.nextSlot);
  }

  remove(target: TickTarget): void {
    if (target.tickSlot === NOT_TICKED) return;
    target.tickSlot = NOT_TICKED;
    if (--this.count === 0) this.stop();
  }

  /** The target has something due earlier than it last said: the next tick visits it. */
  wake(target: TickTarget): void {
    if (target.tickSlot !== NOT_TICKED && target.tickSlot > this.nextSlot) this.place(target, this.nextSlot);
  }

  /**
   * The target has nothing due before `until`, later than it last said (a link's pong to its
   * last ping moved the verdict on, bench B2: the visit at the old one would find nothing to do):
   * it waits until then (its entry in the old slot is skipped when that slot comes). Once per
   * `token` (the link's ping seq: a new one is only sent at a visit), so a peer cannot put its
   * link's visits, and the checks they make, off for good. Placed as a visit places it (no later).
   * Returns `until` when the target was put off, else `current` (the target's own early bound).
   */
  putOff(target: TickTarget, until: number, current: number, token: number): number {
    const slot = Math.min(this.nextSlot + WHEEL_SLOTS - 1, this.slotOf(until));
    if (target.tickSlot === NOT_TICKED || slot <= target.tickSlot || target.tickToken === token) return current;
    target.tickToken = token;
    this.place(target, slot);
    return until;
  }

  onApplicationShutdown(): void {
    this.stop();
  }

  private stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    for (let i = 0; i < WHEEL_SLOTS; i++) {
      const { targets, size } = this.wheel[i];
      for (let k = 0; k < size; k++) targets[k]!.tickSlot = NOT_TICKED;
      this.wheel[i] = emptySlot();
    }
    this.count = 0;
  }

  /** The slot a clock reading falls in. Floored: a target can be visited up to a tick early (it says so and waits on). */
  private slotOf(t: number): number {
    return Math.floor(t / this.tickMs);
  }

  private place(target: TickTarget, slot: number): void {
    target.tickSlot = slot;
    if (this.placing) this.placing.add(target);
    else this.push(target, slot);
  }

  private tick(): void {
    const now = this.now();
    this.lag.record(now, this.dueAt);
    this.dueAt = now + this.tickMs;
    // Every slot up to now's, each once (after a stall of more than the wheel, all of them).
    const from = this.nextSlot;
    const to = Math.min(this.slotOf(now), from + WHEEL_SLOTS - 1);
    this.nextSlot = Math.max(from, this.slotOf(now) + 1);
    const horizon = this.nextSlot + WHEEL_SLOTS - 1;
    // One slot (the usual tick): a target placed now cannot land in a ring still to be emptied.
    const placing = (this.placing = to > from ? new Set() : undefined);
    try {
      for (let slot = from; slot <= to; slot++) this.visit(slot, now, horizon);
    } finally {
      this.placing = undefined;
      if (placing) for (const target of placing) if (target.tickSlot !== NOT_TICKED) this.push(target, target.tickSlot);
    }
  }

  /** Visits the targets waiting in `slot`; each is placed again for its next due time. */
  private visit(slot: number, now: number, horizon: number): void {
    const ring = slot % WHEEL_SLOTS;
    const due = this.wheel[ring];
    if (due.size === 0) return;
    // Targets re-placed during the visits can land in this ring position (the horizon): they go to the spare.
    this.wheel[ring] = this.spare;
    const { targets, size } = due;
    let k = 0;
    try {
      for (; k < size; k++) {
        const target = targets[k]!;
        // Skipped when it moved to another slot, or was removed.
        if (target.tickSlot === slot) {
          const quietUntil = target.onTick(now);
          // Unless onTick removed it (the link closed), it waits for its next due time.
          if (target.tickSlot === slot) this.place(target, Math.min(horizon, Math.max(this.nextSlot, this.slotOf(quietUntil))));
        }
        targets[k] = undefined; // a closed link is not kept alive by the wheel
      }
    } finally {
      // A visit that threw does not drop its target or those after it: the next tick visits them.
      for (; k < size; k++) {
        const target = targets[k]!;
        targets[k] = undefined;
        if (target.tickSlot === slot) this.place(target, this.nextSlot);
      }
      due.size = 0;
      // A burst (every link of a reconnect storm lands in one slot) is not kept for good.
      if (due.targets.length > 2 * size + 1024) due.targets = [];
      this.spare = due;
    }
  }

  private push(target: TickTarget, slot: number): void {
    const into = this.wheel[slot % WHEEL_SLOTS];
    into.targets[into.size++] = target;
  }
}
