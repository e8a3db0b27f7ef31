/**
 * The server's ping policy, gRPC's `too_many_pings` done kindly, as a pure function: a client is
 * told the floor (`minPingIntervalMs`) in the welcome and follows it; a peer that pings faster
 * anyway is closed after MAX_PING_STRIKES strikes in a row.
 */

/** Pings sooner than the floor a peer may send in a row before it is closed (`too-many-pings`), as gRPC counts them. */
export const MAX_PING_STRIKES = 3;

/**
 * A ping sooner than this fraction of the floor after the previous one is a strike. An honest
 * client pings at most half a tick (5 %) early; the rest is margin for network jitter.
 */
export const PING_STRIKE_FRACTION = 0.75;

export interface PingRecord {
  /** When the peer last pinged (-Infinity before its first ping). */
  lastPingAt: number;
  /** Early pings in a row. */
  strikes: number;
}

export const NO_PINGS: PingRecord = { lastPingAt: -Infinity, strikes: 0 };

/**
 * A ping arrived at `now`. `stalledMs`: how long this process's own loop was blocked within the
 * last floor: pings that queued meanwhile are read together, right after it, which is not the
 * peer's fault, so no strike then. One ping at an honest pace forgives (strikes are in a row).
 */
export function afterPing(record: PingRecord, now: number, floorMs: number, stalledMs: number): PingRecord {
  const early = now - record.lastPingAt < floorMs * PING_STRIKE_FRACTION && stalledMs === 0;
  return { lastPingAt: now, strikes: early ? record.strikes + 1 : 0 };
}

export function tooManyPings(record: PingRecord): boolean {
  return record.strikes >= MAX_PING_STRIKES;
}
