/**
 * B6's detectors under test: one entry per point of the trade-off curves. The observer
 * (observer.ts) serves each, the peers (peers.ts) open links to each through the delaying proxy
 * (lab/delay-proxy.ts), so every detector sees the same network, the same pauses and the same machine load.
 */
export type Family = 'fixed' | 'adaptive' | 'ws' | 'socket.io';

export interface DetectorConfig {
  /** Unique name, e.g. `fixed-1000`. */
  name: string;
  family: Family;
  /** Ours: heartbeat.intervalMs; ws: the ping interval of the idiom; Socket.IO: pingInterval. */
  intervalMs: number;
  /** Socket.IO: pingTimeout. */
  timeoutMs?: number;
  /** Adaptive: suspect and lost levels in deviations. */
  levels?: { suspectDeviations: number; lostDeviations: number };
  /** The fixed-rule bound on detection after a fault, when the detector has one. */
  boundMs?: number;
}

const fixed = (intervalMs: number): DetectorConfig => ({ name: `fixed-${intervalMs}`, family: 'fixed', intervalMs, boundMs: 4 * intervalMs });
const adaptive = (suspectDeviations: number, lostDeviations: number): DetectorConfig => ({
  name: `adaptive-${suspectDeviations}/${lostDeviations}`, family: 'adaptive', intervalMs: 1000,
  levels: { suspectDeviations, lostDeviations }, boundMs: 4000,
});
/** The ws README idiom: every interval, terminate a socket whose last ping got no pong, then ping. */
const ws = (intervalMs: number): DetectorConfig => ({ name: `ws-${intervalMs}`, family: 'ws', intervalMs, boundMs: 2 * intervalMs });
/** Socket.IO's defaults (pingInterval 25 s, pingTimeout 20 s) scaled down, same ratio. */
const sio = (intervalMs: number): DetectorConfig => ({
  name: `socket.io-${intervalMs}`, family: 'socket.io', intervalMs, timeoutMs: intervalMs * 0.8, boundMs: intervalMs * 1.8,
});

export const DETECTORS: DetectorConfig[] = [
  fixed(1000), fixed(250), fixed(500), fixed(2000),
  adaptive(6, 10), adaptive(4, 7), adaptive(8, 14),
  ws(500), ws(1000), ws(2000),
  sio(500), sio(1000), sio(2000),
];
