/**
 * The adaptive detector (API.md "Adaptive detection"), as pure functions beside the fixed rule
 * of failure-detector.ts: an estimate in, thresholds out; the verdict is the same
 * `judgeSilence` applied to them.
 *
 * Like phi-accrual detectors (Hayashibara et al.; Akka, Cassandra) it learns each link's gaps
 * between arrivals, their mean and deviation, and convicts when a silence is that many
 * deviations beyond what the link has shown. Three choices of ours:
 * - Only gaps of at least half an interval are samples. Shorter ones are data traffic or a pong
 *   crossing the peer's own ping; they say nothing about how late a beat can be, and they would
 *   pull the mean far below the interval the peer promises.
 * - The expected gap is never taken below one interval (the peer pings whenever it sent nothing
 *   for an interval, so a healthy idle link is silent that long), and the deviation never below
 *   a tenth of the interval: a link that was perfectly regular is not convicted on a hiccup.
 * - Levels are counted in deviations, not in a fitted distribution's tail: arrival gaps are
 *   heavy-tailed (a GC pause, a retransmission), and Cantelli's inequality bounds the tail
 *   whatever the distribution, P(gap ≥ mean + k·σ) ≤ 1 / (1 + k²): ≤ 2.7 % at 6, ≤ 1 % at 10.
 *
 * Both thresholds are capped by the fixed rule's lost threshold of the same options, so the
 * adaptive detector never convicts later than the fixed one (every bound of API.md holds), and
 * until `warmupGaps` samples it is the fixed rule. Own-loop lag stretches both, as for the fixed rule.
 */
import type { DetectionRule } from './failure-detector.js';

/** How far beyond the expected gap a silence must go, in deviations. */
export interface AdaptiveLevels {
  /** Suspect past mean + this × deviation (never later than the lost threshold). */
  suspectDeviations: number;
  /** Lost past mean + this × deviation (never later than the fixed rule's lost threshold). */
  lostDeviations: number;
  /** Gaps observed before the estimate is used; the fixed rule applies until then. */
  warmupGaps: number;
}

/**
 * The levels `detector: 'adaptive'` uses (B6, bench/RESULTS.md): on a quiet link lost after
 * 2 intervals of silence instead of 3.5, and suspect after 1.6.
 */
export const DEFAULT_ADAPTIVE_LEVELS: Readonly<AdaptiveLevels> = { suspectDeviations: 6, lostDeviations: 10, warmupGaps: 8 };

/** Running mean and variance of a link's gaps between arrivals. */
export interface GapEstimate {
  readonly gaps: number;
  readonly mean: number;
  readonly variance: number;
}

export const NO_GAPS: GapEstimate = { gaps: 0, mean: 0, variance: 0 };

/**
 * A plain average over the first gaps, then exponentially weighted with this many gaps' memory
 * (α = 1/16, as TCP's RTT estimator weighs its variance by 1/4 and its mean by 1/8: the deviation
 * must outlive the rare long gap that raised it, or the next one is a false alarm).
 */
const MEMORY_GAPS = 16;

/** The estimate after one more gap; gaps under half an interval are no sample (see above). */
export function observeGap(estimate: GapEstimate, gapMs: number, rule: DetectionRule): GapEstimate {
  if (!(gapMs >= rule.pingAfterMs / 2)) return estimate;
  const gaps = estimate.gaps + 1;
  const alpha = 1 / Math.min(gaps, MEMORY_GAPS);
  const delta = gapMs - estimate.mean;
  // West's incremental weighted variance; with alpha = 1/n it is the population variance.
  return { gaps, mean: estimate.mean + alpha * delta, variance: (1 - alpha) * (estimate.variance + alpha * delta * delta) };
}

/** The smallest deviation used: a tenth of the interval, or a tick when that is longer. */
export function minDeviation(rule: DetectionRule): number {
  return Math.max(rule.pingAfterMs / 10, rule.tickMs);
}

/** The thresholds `estimate` gives under `rule` (the fixed rule of the same options): never later than its lost threshold. */
export function adaptiveRule(estimate: GapEstimate, rule: DetectionRule, levels: AdaptiveLevels): DetectionRule {
  if (estimate.gaps < levels.warmupGaps) return rule;
  const deviation = Math.max(Math.sqrt(estimate.variance), minDeviation(rule));
  const expected = Math.max(estimate.mean, rule.pingAfterMs);
  const lostAfterMs = Math.min(rule.lostAfterMs, expected + levels.lostDeviations * deviation);
  const suspectAfterMs = Math.min(lostAfterMs, expected + levels.suspectDeviations * deviation);
  return { ...rule, suspectAfterMs, lostAfterMs };
}
