import {
  DEFAULT_INTERVAL_MS, DEFAULT_KEEPALIVE_IDLE_MS, DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_PROBES,
  DEFAULT_MISSED_BEATS, DEFAULT_SUSPECT_AFTER_BEATS, MAX_TIMER_MS, MIN_INTERVAL_MS,
} from '../common/heartbeat.constants.js';
import { invalidOption } from '../common/heartbeat.messages.js';
import { detectionRule } from '../detector/failure-detector.js';
import type { HeartbeatTimingOptions, KeepAliveOptions } from '../interfaces/heartbeat-options.interface.js';
import * as check from './option-checks.js';
import type { ResolvedHeartbeatOptions, ResolvedTimingOptions } from './resolved-options.js';

const TIMING_KEYS = ['intervalMs', 'missedBeats', 'suspectAfterBeats', 'detectWithinMs', 'resumeWindowMs'] as const;
const KEEPALIVE_KEYS = ['enabled', 'idleMs', 'intervalMs', 'probes', 'userTimeoutMs', 'noDelay'] as const;

/** README "Tuning detection": the interval that finds a hang within the budget, `floor(budget / (missedBeats + 1))`. */
export function intervalForBudget(detectWithinMs: number, missedBeats: number): number {
  return Math.floor(detectWithinMs / (missedBeats + 1));
}

/**
 * Kernel keepalive for a detection budget: `idle + probes × interval ≤ 2 × budget` in whole
 * seconds (the kernel's unit), at least 1 s each. Half the time idle, the rest in 1 s probes:
 * a stock client (kernel keepalive only) is found within twice the budget, or 2 s at least.
 */
export function keepAliveForBudget(detectWithinMs: number): { idleMs: number; intervalMs: number; probes: number } {
  const totalS = Math.max(2, Math.floor((2 * detectWithinMs) / 1000));
  const idleS = Math.ceil(totalS / 2);
  return { idleMs: idleS * 1000, intervalMs: 1000, probes: Math.max(1, totalS - idleS) };
}

/** `heartbeat`: the application heartbeat and the detection rule it makes. */
export function resolveTimingOptions(given: unknown): ResolvedTimingOptions {
  const hb = check.group<HeartbeatTimingOptions>('heartbeat', given, TIMING_KEYS);
  const missedBeats = check.integer('heartbeat.missedBeats', hb.missedBeats, DEFAULT_MISSED_BEATS, 1);
  if (hb.detectWithinMs !== undefined && hb.intervalMs !== undefined) {
    throw new TypeError(invalidOption('heartbeat.detectWithinMs', 'cannot be given together with heartbeat.intervalMs (one sets the other)', hb.detectWithinMs));
  }
  const detectWithinMs = hb.detectWithinMs === undefined ? undefined
    : check.duration('heartbeat.detectWithinMs', hb.detectWithinMs, 0, MIN_INTERVAL_MS * (missedBeats + 1));
  // Below 10 ms a healthy loopback link flaps: the tick (5 ms minimum) and timer jitter eat the grace.
  const intervalMs = detectWithinMs === undefined
    ? check.duration('heartbeat.intervalMs', hb.intervalMs, DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS)
    : intervalForBudget(detectWithinMs, missedBeats);
  const suspectAfterBeats = check.number('heartbeat.suspectAfterBeats', hb.suspectAfterBeats,
    Math.min(DEFAULT_SUSPECT_AFTER_BEATS, missedBeats),
    (n) => Number.isInteger(n) && n >= 1 && n <= missedBeats, `must be an integer from 1 to missedBeats (${missedBeats})`);
  const resumeWindowMs = check.number('heartbeat.resumeWindowMs', hb.resumeWindowMs, 0,
    (n) => n >= 0 && n <= MAX_TIMER_MS, `must be a number of ms from 0 (off) to ${MAX_TIMER_MS}`);
  const timing: ResolvedTimingOptions = {
    intervalMs, missedBeats, suspectAfterBeats, resumeWindowMs, rule: detectionRule({ intervalMs, missedBeats, suspectAfterBeats }),
  };
  if (detectWithinMs !== undefined) timing.detectWithinMs = detectWithinMs;
  return timing;
}

/** `keepAlive`: kernel socket options; with a detection budget their defaults derive from it. */
export function resolveKeepAliveOptions(given: unknown, detectWithinMs: number | undefined): ResolvedHeartbeatOptions['keepAlive'] {
  const ka = check.group<KeepAliveOptions>('keepAlive', given, KEEPALIVE_KEYS);
  const enabled = check.boolean('keepAlive.enabled', ka.enabled, true);
  const defaults = detectWithinMs === undefined
    ? { idleMs: DEFAULT_KEEPALIVE_IDLE_MS, intervalMs: DEFAULT_KEEPALIVE_INTERVAL_MS, probes: DEFAULT_KEEPALIVE_PROBES }
    : keepAliveForBudget(detectWithinMs);
  const idleMs = check.seconds('keepAlive.idleMs', ka.idleMs, defaults.idleMs);
  const intervalMs = check.seconds('keepAlive.intervalMs', ka.intervalMs, defaults.intervalMs);
  const probes = check.integer('keepAlive.probes', ka.probes, defaults.probes, 1);
  const userTimeoutMs = check.integer('keepAlive.userTimeoutMs', ka.userTimeoutMs, enabled ? idleMs + probes * intervalMs : 0, 0, MAX_TIMER_MS);
  const noDelay = check.boolean('keepAlive.noDelay', ka.noDelay, true);
  return { enabled, idleMs, intervalMs, probes, userTimeoutMs, noDelay };
}
