/**
 * The one seam between a link and its failure detector: chosen once per link from the resolved
 * options, told of every gap between arrivals, asked for the thresholds in force. The verdict
 * itself is `judgeSilence` on them, the same for both detectors.
 */
import { adaptiveRule, NO_GAPS, observeGap, type AdaptiveLevels, type GapEstimate } from './adaptive-detector.js';
import type { DetectionRule } from './failure-detector.js';

export type DetectorKind = 'fixed' | 'adaptive';

export type LinkDetector =
  | { readonly kind: 'fixed'; readonly rule: DetectionRule }
  | {
    readonly kind: 'adaptive';
    /** The thresholds in force, derived from the estimate (the fixed rule during warm-up). */
    readonly rule: DetectionRule;
    /** The fixed rule of the same options: the ceiling. */
    readonly fixed: DetectionRule;
    readonly levels: AdaptiveLevels;
    readonly estimate: GapEstimate;
  };

/** A fresh detector for a link judged under `fixed` (the options' rule, or a slower one after a ping floor). */
export function linkDetector(kind: DetectorKind, fixed: DetectionRule, levels: AdaptiveLevels): LinkDetector {
  return kind === 'fixed' ? { kind, rule: fixed } : { kind, rule: fixed, fixed, levels, estimate: NO_GAPS };
}

/** The same detector judged under another fixed rule (a client that adopted the server's ping floor). */
export function withRule(detector: LinkDetector, fixed: DetectionRule): LinkDetector {
  if (detector.kind === 'fixed') return detector.rule === fixed ? detector : { kind: 'fixed', rule: fixed };
  return detector.fixed === fixed ? detector : linkDetector('adaptive', fixed, detector.levels);
}

/**
 * A frame arrived at `now`, the previous one at `lastHeardAt`; `clock.blockedSince` is how long our
 * own loop could not read since then, taken out of the gap. The fixed detector returns at once.
 */
export function afterArrival(detector: LinkDetector, now: number, lastHeardAt: number, clock: { blockedSince(t: number): number }): LinkDetector {
  return detector.kind === 'fixed' ? detector : afterGap(detector, now - lastHeardAt - clock.blockedSince(lastHeardAt));
}

/**
 * A frame arrived `gapMs` after the previous one (this process's own stalls taken out). The fixed
 * detector learns nothing; the adaptive one updates its estimate only on a sample (the same
 * object back otherwise, so a link under data traffic allocates nothing).
 */
export function afterGap(detector: LinkDetector, gapMs: number): LinkDetector {
  if (detector.kind === 'fixed') return detector;
  const estimate = observeGap(detector.estimate, gapMs, detector.fixed);
  if (estimate === detector.estimate) return detector;
  return { ...detector, estimate, rule: adaptiveRule(estimate, detector.fixed, detector.levels) };
}
