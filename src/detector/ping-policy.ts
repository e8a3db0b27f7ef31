/**
 * The server's ping policy, gRPC's `too_many_pings` done kindly, as a pure function: a client is
 * told the floor (`minPingIntervalMs`) in the welcome and follows it; a peer that pings faster
 * anyway is closed after MAX_PING_STRIKES strikes in a row.
 */

/** Pings sooner than the floor a peer may send in a row before it is closed (`too-many-pings`), as gRPC counts them. */
export const MAX_PING_STRIKES = 3;

/**
 * A ping sooner than this fraction of the floor after the previous one is early. An honest
 * client pings at most half a tick (5 %) early; the rest is margin for network jitter.
 */
export const PING_STRIKE_FRACTION = 0.75;

/**
 * Pings a peer may have "saved up" by pinging slower than the floor. A path that stalls (a
 * proxy, a retransmission, the peer's own machine) delivers the pings sent meanwhile together;
 * judged by their gaps alone, four of them closed a healthy link (B6, under machine stalls of
 * 3 s). The credit forgives a burst the peer's earlier pace paid for, and no more.
 */
export const PING_BURST = 10;

export interface PingRecord {
  /** When the peer last pinged (-Infinity before its first ping). */
  lastPingAt: number;
  /** Early pings in a row. */
  strikes: number;
  /** Pings the peer may still send sooner than the floor (earned at one per `floor × PING_STRIKE_FRACTION`, at most PING_BURST). */
  credit: number;
}

/** A new link: credit for its first ping only, so a peer that floods from the start is struck at once. */
export const NO_PINGS: PingRecord = { lastPingAt: -Infinity, strikes: 0, credit: 1 };

/**
 * A ping arrived at `now`. It is early when the peer has no credit left, that is when it has
 * pinged faster than `floorMs × PING_STRIKE_FRACTION` on average since it last had a full
 * credit. `stalledMs`: how long this process's own loop was blocked within the last floor: pings
 * that queued meanwhile are read together, right after it, which is not the peer's fault, so no
 * strike then. One ping at an honest pace forgives (strikes are in a row).
 */
export function afterPing(record: PingRecord, now: number, floorMs: number, stalledMs: number): PingRecord {
  const earned = record.lastPingAt === -Infinity ? 0 : (now - record.lastPingAt) / (floorMs * PING_STRIKE_FRACTION);
  const credit = Math.min(PING_BURST, record.credit + earned);
  // Every ping costs one, early or not: a peer just under the pace cannot alternate its way out.
  const early = credit < 1 && stalledMs === 0;
  return { lastPingAt: now, strikes: early ? record.strikes + 1 : 0, credit: credit - 1 };
}

export function tooManyPings(record: PingRecord): boolean {
  return record.strikes >= MAX_PING_STRIKES;
}
