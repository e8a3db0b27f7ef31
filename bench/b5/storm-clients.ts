/**
 * B5 load: many reconnecting peers in one process, real sockets and the real protocol.
 * `node --import tsx bench/b5/storm-clients.ts <ours|stock> <port> <prefix>`.
 *
 * Each peer reconnects as HeartbeatClient does: when its link closes it waits
 * `backoffDelay(attempt++, DEFAULT_RECONNECT)` (src/transport/backoff.ts: 200 ms doubling to
 * 5,000 ms, ±20 % jitter) and dials again; a completed handshake resets `attempt` to 0. One timer
 * per waiting peer, as in HeartbeatClient.
 *
 * ours:  the lean heartbeat client of B2 (hello; pong to every ping; ping when nothing was sent for
 *        an interval; one shared timer), with a stable nodeId per peer (`<prefix>-<i>`).
 * stock: what a stock ClientTCP puts on the wire: on connect, one request
 *        `{ pattern: 'hello', data: <id>, id }` in Nest's framing; the peer can send again once the
 *        reply arrives. No heartbeats (a stock client has none).
 *
 * Commands: { cmd: 'connect', count, addresses } (paced, like B2), { cmd: 'status' }, { cmd: 'close' }.
 */
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { backoffDelay } from '../../src/transport/backoff.js';
import { DEFAULT_RECONNECT } from '../../src/common/heartbeat.constants.js';
import { emit, serveCommands } from '../lib/proc.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';

const MAX_FRAME = 1024 * 1024;

const impl = process.argv[2] === 'stock' ? 'stock' : 'ours';
const port = Number(process.argv[3]);
const prefix = process.argv[4] ?? `b5-${process.pid}`;
const intervalMs = 1000;
const PER_ADDRESS = 500;
const MAX_PENDING = 200;

interface Peer {
  id: string;
  index: number;
  socket: Socket | null;
  /** The library's own decoder: these peers frame exactly as ours do. */
  decoder: FrameDecoder;
  lastSent: number;
  seq: number;
  open: boolean;
  attempt: number;
  dials: number;
  settle: (() => void) | null;
}

const peers: Peer[] = [];
/** This process's own loop delay: a starved client answers pings late, which the server rightly judges. */
const eld = monitorEventLoopDelay({ resolution: 20 });
eld.enable();
let addresses: string[] = [];
let closing = false;
const stats = { ready: 0, closes: 0, dials: 0, errors: {} as Record<string, number>, maxAttempt: 0, pingsAnswered: 0 };

function write(p: Peer, json: string): void {
  p.socket!.write(`${json.length}#${json}`);
  p.lastSent = Date.now();
}

function becameReady(p: Peer): void {
  p.open = true;
  p.attempt = 0;
  stats.ready++;
  const s = p.settle;
  p.settle = null;
  s?.();
}

function onFrame(p: Peer, f: { $hb?: string; seq?: number; t?: number; response?: unknown; isDisposed?: boolean }): void {
  if (impl === 'stock') {
    if (!p.open && ('response' in f || f.isDisposed)) becameReady(p);
    return;
  }
  switch (f.$hb) {
    case 'welcome':
      becameReady(p);
      return;
    case 'ping':
      stats.pingsAnswered++;
      write(p, `{"$hb":"pong","seq":${f.seq},"t":${f.t}}`);
      return;
    case 'bye':
      p.open = false; // nothing more may be written after our FIN
      p.socket!.end();
      return;
    default:
  }
}

function onData(p: Peer, chunk: string): void {
  p.decoder.push(chunk, (frame) => onFrame(p, frame));
}

function dial(p: Peer): void {
  stats.dials++;
  p.dials++;
  // Each attempt from the next source address: no 4-tuple clash with the server's TIME_WAIT entries.
  const localAddress = addresses[(Math.floor(p.index / PER_ADDRESS) + p.dials) % addresses.length];
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  p.socket = socket;
  p.decoder = new FrameDecoder(MAX_FRAME);
  socket.setEncoding('utf8');
  socket.setNoDelay(true);
  socket.on('connect', () => {
    if (impl === 'ours') write(p, JSON.stringify({ $hb: 'hello', v: 1, id: p.id, meta: {} }));
    else write(p, JSON.stringify({ pattern: 'hello', data: p.id, id: `${p.id}-${p.dials}` }));
  });
  socket.on('data', (d: string) => onData(p, d));
  socket.on('error', (e: NodeJS.ErrnoException) => {
    const code = e.code ?? 'error';
    stats.errors[code] = (stats.errors[code] ?? 0) + 1;
  });
  socket.on('close', () => {
    if (p.socket !== socket) return;
    p.socket = null;
    p.open = false;
    stats.closes++;
    if (closing) return;
    // HeartbeatClient.scheduleReconnect: the delay grows with each failed attempt.
    const delay = backoffDelay(p.attempt++, DEFAULT_RECONNECT);
    stats.maxAttempt = Math.max(stats.maxAttempt, p.attempt);
    setTimeout(dial, delay, p);
  });
}

/** The lean client's own heartbeat: ping a link on which nothing was sent for an interval. */
if (impl === 'ours') {
  setInterval(() => {
    const t = Date.now();
    for (const p of peers) {
      if (p.open && p.socket && t - p.lastSent >= intervalMs) write(p, `{"$hb":"ping","seq":${++p.seq},"t":${t}}`);
    }
  }, 100);
}

async function connectMany(count: number) {
  const t0 = Date.now();
  let inFlight = 0;
  let slot: (() => void) | null = null;
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    while (inFlight >= MAX_PENDING) await new Promise<void>((resolve) => (slot = resolve));
    inFlight++;
    const index = peers.length;
    const p: Peer = { id: `${prefix}-${index}`, index, socket: null, decoder: new FrameDecoder(MAX_FRAME), lastSent: Date.now(), seq: 0, open: false, attempt: 0, dials: 0, settle: null };
    peers.push(p);
    tasks.push(new Promise<void>((resolve) => {
      p.settle = resolve;
      dial(p);
    }).finally(() => {
      inFlight--;
      const s = slot;
      slot = null;
      s?.();
    }));
  }
  await Promise.all(tasks);
  return { ready: stats.ready, ms: Date.now() - t0 };
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'connect':
      addresses = cmd.addresses;
      return connectMany(cmd.count);
    case 'status':
      return { ...stats, open: peers.filter((p) => p.open).length, peers: peers.length, loopDelayMaxMs: eld.max / 1e6, loopDelayP99Ms: eld.percentile(99) / 1e6 };
    case 'mark':
      eld.reset();
      return null;
    case 'close':
      closing = true;
      for (const p of peers) p.socket?.destroy();
      return { closed: peers.length };
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});

emit({ evt: 'ready', impl, pid: process.pid });
