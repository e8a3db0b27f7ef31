/**
 * The failure detector's rule, as pure functions of time (see API.md "Timing").
 * A link is judged on `silence`, the time since its last received frame.
 */
export interface SilenceThresholds {
  /** Silence above this makes a link suspect: suspectAfterBeats × interval + interval / 2. */
  suspectAfterMs: number;
  /** Silence above this makes it lost: missedBeats × interval + interval / 2. */
  lostAfterMs: number;
  /** A ping is due once nothing was sent for this long. */
  pingAfterMs: number;
}

export type SilenceVerdict = 'alive' | 'suspect' | 'lost';

export function silenceThresholds(hb: { intervalMs: number; missedBeats: number; suspectAfterBeats: number }): SilenceThresholds {
  // The half-interval grace keeps a healthy idle link from flapping (MQTT uses 1.5×).
  const grace = hb.intervalMs / 2;
  return {
    suspectAfterMs: hb.suspectAfterBeats * hb.intervalMs + grace,
    lostAfterMs: hb.missedBeats * hb.intervalMs + grace,
    pingAfterMs: hb.intervalMs,
  };
}

/** `stretchMs`: how long this process's own loop was blocked lately; added to both thresholds. */
export function judgeSilence(silenceMs: number, t: SilenceThresholds, stretchMs: number): SilenceVerdict {
  if (silenceMs > t.lostAfterMs + stretchMs) return 'lost';
  if (silenceMs > t.suspectAfterMs + stretchMs) return 'suspect';
  return 'alive';
}

/** Ping when nothing was sent for an interval, less half a tick so the shared tick never makes it late. */
export function pingDue(now: number, lastSentAt: number, t: SilenceThresholds, tickMs: number): boolean {
  return now - lastSentAt >= t.pingAfterMs - tickMs / 2;
}

/** The shared tick: a tenth of the interval, between 5 and 100 ms. It bounds detection lateness. */
export function tickPeriod(intervalMs: number): number {
  return Math.min(100, Math.max(5, Math.round(intervalMs / 10)));
}
