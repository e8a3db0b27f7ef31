/**
 * Last heard and RTT on the page, as changes. The pulse (each second) goes to every open page,
 * so it says only what a reader can see change, and nothing when nothing did:
 * - a peer heard within `recentMs` (an interval and a half) is shown as heard "< 1.5 s" ago and
 *   costs nothing while it stays so; its exact last-heard time is sent when it falls silent, the
 *   moment it matters (a hang, a loss), and the page counts its age up from there;
 * - RTT to two significant digits, every few pulses (an RTT round), for the peers where it changed.
 * With 1,000 healthy peers, a page was sent ~30 KB every second (`[id, lastSeenAt, rtt]` per
 * peer); now a few KB every 5 s. Each message costs the server per page, whatever its size
 * (Nest's SSE pipeline, a socket write): 20 pages added ~1.5 % of a core, now well under 1 %.
 */
import type { PeerInfo } from '../interfaces/presence.interface.js';

/** What the pages were last told about one peer. */
export interface BeatState {
  silent: boolean;
  lastSeenAt: number;
  rtt: number | null;
}

/** Peers by their row's `n`; ages in ms counted back from `at`. */
export interface Beats {
  at: number;
  /** Heard within `recentMs` again (after a silence, or first seen). */
  heard: number[];
  /** `n, age` pairs: silent for longer than `recentMs`, last heard `age` ms before `at`. */
  silent: number[];
  /** On RTT rounds only: `n, rtt` pairs where it changed, rtt to two significant digits (ms). */
  rtt?: number[];
}

export interface Pulse extends Beats {
  /** The server's clock (epoch ms): the page measures ages against it, not its own. */
  now: number;
}

/** RTT as the page shows it: two significant digits (2.8 ms, 0.35 ms, 120 ms). */
export const rttShown = (rttMs: number | undefined): number | null =>
  rttMs === undefined ? null : Number(rttMs.toPrecision(2));

const isDeparted = (peer: PeerInfo) => peer.status === 'lost' || peer.status === 'left';

/**
 * What moved since `sent`, for the peers that have a row (`keyOf`); `sent` is updated. RTT only
 * when `rttRound` (a peer first seen gets its RTT at once).
 */
export function diffBeats(
  sent: Map<string, BeatState>, peers: readonly PeerInfo[], keyOf: (id: string) => number | undefined, at: number, recentMs: number,
  rttRound: boolean,
): Beats {
  const beats: Beats = { at, heard: [], silent: [] };
  const rtt: number[] = [];
  let seen = 0;
  for (const peer of peers) {
    const n = keyOf(peer.id);
    if (n === undefined) continue;
    seen++;
    let state = sent.get(peer.id);
    const fresh = state === undefined;
    state ??= { silent: false, lastSeenAt: -1, rtt: null };
    const silent = isDeparted(peer) || at - peer.lastSeenAt > recentMs;
    if (silent && (fresh || !state.silent || state.lastSeenAt !== peer.lastSeenAt)) {
      beats.silent.push(n, Math.max(0, at - peer.lastSeenAt));
    } else if (!silent && (fresh || state.silent)) {
      beats.heard.push(n);
    }
    state.silent = silent;
    state.lastSeenAt = peer.lastSeenAt;
    if (rttRound || fresh) {
      const shown = rttShown(peer.rttMs);
      if (shown !== null && shown !== state.rtt) rtt.push(n, shown);
      state.rtt = shown;
    }
    if (fresh) sent.set(peer.id, state);
  }
  if (rttRound || rtt.length > 0) beats.rtt = rtt;
  if (sent.size > seen) {
    const ids = new Set(peers.map((p) => p.id));
    for (const id of sent.keys()) if (!ids.has(id) || keyOf(id) === undefined) sent.delete(id);
  }
  return beats;
}

/** Everything in `sent`, as beats from nothing: what a page that opens now is told. */
export function allBeats(sent: ReadonlyMap<string, BeatState>, keyOf: (id: string) => number | undefined, at: number): Beats {
  const beats: Beats = { at, heard: [], silent: [], rtt: [] };
  const rtt = beats.rtt!;
  for (const [id, state] of sent) {
    const n = keyOf(id);
    if (n === undefined) continue;
    if (state.silent) beats.silent.push(n, Math.max(0, at - state.lastSeenAt));
    else beats.heard.push(n);
    if (state.rtt !== null) rtt.push(n, state.rtt);
  }
  return beats;
}
