import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { asyncScheduler, interval, type SchedulerLike, type Subscription } from 'rxjs';
import { HEARTBEAT_RESOLVED_OPTIONS, HEARTBEAT_SCHEDULER } from '../heartbeat.constants.js';
import type { ResolvedHeartbeatOptions } from '../interfaces/heartbeat-options.interface.js';
import { detectionRule } from './failure-detector.js';
import { LoopLag } from './loop-lag.js';

/** Anything the shared tick drives. */
export interface TickTarget {
  onTick(now: number): void;
}

/**
 * The detector's clock: one shared RxJS interval for every link of the process, not a timer
 * per peer, so the number of timers does not grow with the number of peers. It runs only while
 * there are links, and measures its own lateness as this process's event-loop lag. It decides
 * nothing: the rule is in failure-detector.ts.
 */
@Injectable()
export class HeartbeatTicker implements OnApplicationShutdown {
  readonly tickMs: number;
  private readonly targets = new Set<TickTarget>();
  private readonly lag: LoopLag;
  private subscription: Subscription | undefined;
  private dueAt = 0;

  constructor(
    @Inject(HEARTBEAT_RESOLVED_OPTIONS) options: ResolvedHeartbeatOptions,
    @Optional() @Inject(HEARTBEAT_SCHEDULER) private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {
    this.scheduler ??= asyncScheduler;
    const rule = detectionRule(options.heartbeat);
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
    return this.scheduler === asyncScheduler ? performance.timeOrigin + performance.now() : this.scheduler.now();
  }

  /** Time this process's loop was blocked after `t`. */
  blockedSince(t: number): number {
    return this.lag.blockedSince(t);
  }

  /**
   * Runs `fn` once after `ms` on this clock; returns a cancel function. On real time the timer
   * is unref'd: a pending expiry never keeps the process alive.
   */
  after(ms: number, fn: () => void): () => void {
    if (this.scheduler !== asyncScheduler) {
      const action = this.scheduler.schedule(fn, ms);
      return () => action.unsubscribe();
    }
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  }

  get size(): number {
    return this.targets.size;
  }

  get running(): boolean {
    return this.subscription !== undefined;
  }

  add(target: TickTarget): void {
    this.targets.add(target);
    if (!this.subscription) {
      this.dueAt = this.now() + this.tickMs;
      this.subscription = interval(this.tickMs, this.scheduler).subscribe(() => this.tick());
    }
  }

  remove(target: TickTarget): void {
    this.targets.delete(target);
    if (this.targets.size === 0) this.stop();
  }

  onApplicationShutdown(): void {
    this.targets.clear();
    this.stop();
  }

  private stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private tick(): void {
    const now = this.now();
    this.lag.record(now, this.dueAt);
    this.dueAt = now + this.tickMs;
    for (const target of this.targets) target.onTick(now);
  }
}
