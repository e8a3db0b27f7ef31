/** B6's derived figures, shared by its table (report.ts) and its plot (plot.ts). */
import type { B6DetectorRow } from '../lib/results.js';

/** Detection times of hangs and cable pulls together, ascending. */
export function detectionSamples(r: B6DetectorRow): number[] {
  return [...r.hang.samples, ...r.cable.samples].sort((a, b) => a - b);
}

/**
 * Losses a detector's verdict caused, on either end of the link: `heartbeat-timeout` here, or a
 * close (`closed-without-goodbye`, `connection-reset`) when the peer's own detector convicted us;
 * for ws and Socket.IO every loss. Not `too-many-pings`: the server's ping-strike rule, which
 * pings bunched by a stalled path can trip (see the analysis), is no detector.
 */
export function detectorLosses(r: B6DetectorRow): number {
  return r.falseLosses - (r.lostReasons['too-many-pings'] ?? 0);
}
