import { Inject, Injectable, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { asyncScheduler, interval, type SchedulerLike, type Subscription } from 'rxjs';
import { HEARTBEAT_RESOLVED_OPTIONS, HEARTBEAT_SCHEDULER } from '../heartbeat.constants.js';
import type { ResolvedHeartbeatOptions } from '../heartbeat-options.js';
import { silenceThresholds, tickPeriod, type SilenceThresholds } from './failure-detector.js';
import { LoopLag } from './loop-lag.js';

/** Anything the shared tick drives. */
export interface TickTarget {
  onTick(now: number): void;
}

/**
 * The failure detector's clock: one shared RxJS interval for every link of the process, not a
 * timer per peer, so the number of timers does not grow with the number of peers. It runs only
 * while there are links, and measures its own lateness as this process's event-loop lag.
 */
@Injectable()
export class HeartbeatDetector implements OnApplicationShutdown {
  readonly tickMs: number;
  readonly thresholds: SilenceThresholds;
  private readonly targets = new Set<TickTarget>();
  private readonly lag: LoopLag;
  private subscription: Subscription | undefined;
  private dueAt = 0;

  constructor(
    @Inject(HEARTBEAT_RESOLVED_OPTIONS) options: ResolvedHeartbeatOptions,
    @Optional() @Inject(HEARTBEAT_SCHEDULER) private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {
    this.scheduler ??= asyncScheduler;
    this.thresholds = silenceThresholds(options.heartbeat);
    this.tickMs = tickPeriod(options.heartbeat.intervalMs);
    // Forget a stall once no link could still be judged on a silence that spans it.
    this.lag = new LoopLag(this.tickMs, 4 * this.thresholds.lostAfterMs);
  }

  /** Epoch ms; sub-millisecond on real time, so loopback RTTs are not all 0. */
  now(): number {
    return this.scheduler === asyncScheduler ? performance.timeOrigin + performance.now() : this.scheduler.now();
  }

  /** Time this process's loop was blocked after `t`. */
  blockedSince(t: number): number {
    return this.lag.blockedSince(t);
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
