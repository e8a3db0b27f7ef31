/**
 * The failure detector, in one place, as pure functions of time (docs/DETECTION.md, "The detector").
 *
 * A link is judged on `silence`, the time since its last received frame, and moves
 * alive → suspect → lost on silence; any frame (a beat) brings a suspect link back to alive.
 * The peer's status over several links, and the events (`joined`, `suspect`, `recovered`,
 * `lost`, `left`) that status changes produce, are in presence/peer-table.ts.
 */

/** Thresholds and tick of the detector, derived once from `heartbeat` options. */
export interface DetectionRule {
  /** Silence above this makes a link suspect: suspectAfterBeats × interval + interval / 2. */
  suspectAfterMs: number;
  /** Silence above this makes it lost: missedBeats × interval + interval / 2. */
  lostAfterMs: number;
  /** A ping is due once nothing was sent for this long. */
  pingAfterMs: number;
  /** Period of the shared tick that applies the rule; it bounds detection lateness. */
  tickMs: number;
}

/** What an open link contributes to its peer: open links are alive or suspect. */
export type LinkStatus = 'alive' | 'suspect';
export type SilenceVerdict = 'alive' | 'suspect' | 'lost';

export function detectionRule(hb: { intervalMs: number; missedBeats: number; suspectAfterBeats: number }): DetectionRule {
  // The half-interval grace keeps a healthy idle link from flapping (MQTT uses 1.5×).
  const grace = hb.intervalMs / 2;
  return {
    suspectAfterMs: hb.suspectAfterBeats * hb.intervalMs + grace,
    lostAfterMs: hb.missedBeats * hb.intervalMs + grace,
    pingAfterMs: hb.intervalMs,
    tickMs: tickPeriod(hb.intervalMs),
  };
}

/** The shared tick: a tenth of the interval, between 5 and 100 ms. */
export function tickPeriod(intervalMs: number): number {
  return Math.min(100, Math.max(5, Math.round(intervalMs / 10)));
}

/** `stretchMs`: how long this process's own loop was blocked lately; added to both thresholds. */
export function judgeSilence(silenceMs: number, rule: DetectionRule, stretchMs: number): SilenceVerdict {
  if (silenceMs > rule.lostAfterMs + stretchMs) return 'lost';
  if (silenceMs > rule.suspectAfterMs + stretchMs) return 'suspect';
  return 'alive';
}

/** The silence a link in `status` may keep without a verdict, whatever the stretch (a stall only adds to it). */
export function silenceLimit(status: LinkStatus, rule: DetectionRule): number {
  return status === 'alive' ? rule.suspectAfterMs : rule.lostAfterMs;
}

/**
 * A tick's verdict on a link silent for `silenceMs` since `since`. Below the limit in force the
 * loop's lag is not even read (bench B2: most visits to an idle link are below it).
 */
export function silenceVerdict(
  status: LinkStatus, silenceMs: number, rule: DetectionRule, clock: { blockedSince(t: number): number }, since: number,
): LinkStatus | 'lost' {
  if (silenceMs <= silenceLimit(status, rule)) return status;
  return afterSilence(status, judgeSilence(silenceMs, rule, clock.blockedSince(since)));
}

/** A tick's verdict on a link: alive → suspect → lost. Silence never makes a link alive again; only a beat does. */
export function afterSilence(status: LinkStatus, verdict: SilenceVerdict): LinkStatus | 'lost' {
  if (verdict === 'lost') return 'lost';
  return verdict === 'suspect' ? 'suspect' : status;
}

/** A frame arrived. Any frame is a beat: a suspect link is alive again (its peer may be `recovered`). */
export function afterBeat(_status: LinkStatus): LinkStatus {
  return 'alive';
}

/** When a ping falls due: an interval after the last frame sent, less half a tick so the shared tick never makes it late. */
export function pingAt(lastSentAt: number, rule: DetectionRule): number {
  return lastSentAt + rule.pingAfterMs - rule.tickMs / 2;
}

export function pingDue(now: number, lastSentAt: number, rule: DetectionRule): boolean {
  return now >= pingAt(lastSentAt, rule);
}

/**
 * The earliest clock reading at which a tick can change anything on an open managed link, so
 * the tick can skip it until then without being later than the rule. A verdict needs
 * `silence > threshold + stretch` (a frame heard only moves `lastHeardAt` later, a loop stall
 * only adds stretch) and a ping `now >= pingAt(lastSentAt)` (a send only moves `lastSentAt`
 * later), so neither can come before these instants. A status change must reset
 * it (suspect → alive lowers the threshold). Capped at one interval so per-tick checks that
 * do not depend on time (the slow reader) still run that often.
 */
export function nextDue(status: LinkStatus, lastHeardAt: number, lastSentAt: number, now: number, rule: DetectionRule): number {
  const verdictAt = lastHeardAt + silenceLimit(status, rule);
  return Math.min(verdictAt, pingAt(lastSentAt, rule), now + rule.pingAfterMs);
}
