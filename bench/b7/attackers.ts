/**
 * B7 attacker process: `node --import tsx bench/b7/attackers.ts <port>`. Raw sockets speaking
 * (or abusing) the wire format; nothing of the library runs here.
 *
 * Commands:
 * - `bigframes { count, announce, bodyChars, chunkChars, everyMs, addresses }`: `count` sockets,
 *   each writes `<announce>#` at once, then `chunkChars` of body every `everyMs` until it has
 *   sent `bodyChars` (never a whole frame). Resolves when every socket connected.
 * - `churn { concurrency, perSecond?, addresses }`: fresh nodeIds as fast as this process can (or at
 *   `perSecond`): connect, write a hello with a nodeId never used before, close (FIN) at once, dial
 *   the next; at most `concurrency` connections in flight. Runs until `stop`.
 * - `slowloris { count, trickleMs, redialEveryMs, addresses }`: `count` sockets that never finish
 *   a hello (its length prefix, then one character every `trickleMs`); every `redialEveryMs`,
 *   the sockets the server closed are opened again (slowloris.py's loop). Runs until `stop`.
 * - `status`, `stop` (destroys every socket, stops dialling).
 *
 * A socket the server closes within REFUSED_WITHIN_MS of connecting, without sending anything,
 * counts as refused at accept; the others' lifetimes are kept (a handshake deadline shows there).
 */
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { emit, serveCommands } from '../lib/proc.js';

const port = Number(process.argv[2]);
const REFUSED_WITHIN_MS = 500;
const MAX_CONNECTING = 200;
const eld = monitorEventLoopDelay({ resolution: 20 });
eld.enable();

const sockets = new Set<Socket>();
let stopped = false;
let addresses: string[] = ['127.0.0.1'];
let dials = 0;
let connecting = 0;
/** Churn closes its own sockets: their ends are not the server's verdicts. */
let judgeCloses = true;

const stats = {
  connected: 0, closedByServer: 0, refusedAtAccept: 0, errors: {} as Record<string, number>,
  /** Lifetimes (connect → close) of sockets the server closed after REFUSED_WITHIN_MS, ms. */
  lifetimes: [] as number[],
  bytesSent: 0, maxOpen: 0, helloSent: 0, welcomed: 0, rejected: 0,
  perSecond: [] as number[],
};

function resetStats(): void {
  Object.assign(stats, {
    connected: 0, closedByServer: 0, refusedAtAccept: 0, errors: {}, lifetimes: [], bytesSent: 0, maxOpen: 0,
    helloSent: 0, welcomed: 0, rejected: 0, perSecond: [],
  });
}

interface Dialled { socket: Socket; connectedAt: number; heard: boolean }

/** A socket from the next source address; `onClose(byServer)` when it ends. */
function dial(onConnect: (d: Dialled) => void, onClose: (d: Dialled, byServer: boolean) => void): Dialled {
  const localAddress = addresses[dials++ % addresses.length];
  const socket = connect({ host: '127.0.0.1', port, localAddress });
  const d: Dialled = { socket, connectedAt: 0, heard: false };
  connecting++;
  sockets.add(socket);
  socket.setNoDelay(true);
  socket.on('connect', () => {
    connecting--;
    d.connectedAt = performance.now();
    stats.connected++;
    stats.maxOpen = Math.max(stats.maxOpen, sockets.size - connecting);
    onConnect(d);
  });
  socket.on('data', (chunk: Buffer) => {
    d.heard = true;
    const text = chunk.toString('latin1');
    if (text.includes('"welcome"')) stats.welcomed++;
    if (text.includes('"reject"')) stats.rejected++;
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    const code = e.code ?? 'error';
    stats.errors[code] = (stats.errors[code] ?? 0) + 1;
  });
  socket.on('close', () => {
    if (d.connectedAt === 0) connecting--;
    sockets.delete(socket);
    const byServer = !stopped && d.connectedAt > 0;
    if (byServer && judgeCloses) {
      stats.closedByServer++;
      const life = performance.now() - d.connectedAt;
      if (life < REFUSED_WITHIN_MS && !d.heard) stats.refusedAtAccept++;
      else stats.lifetimes.push(Math.round(life));
    }
    onClose(d, byServer);
  });
  return d;
}

function send(d: Dialled, text: string): void {
  if (d.socket.destroyed || !d.socket.writable) return;
  d.socket.write(text);
  stats.bytesSent += text.length;
}

/** Opens `count` sockets, at most MAX_CONNECTING at a time; resolves when each connected or failed. */
async function openMany(count: number, onConnect: (d: Dialled) => void, onClose: (d: Dialled, byServer: boolean) => void): Promise<void> {
  let settled = 0;
  await new Promise<void>((resolve) => {
    let started = 0;
    const next = () => {
      while (!stopped && started < count && connecting < MAX_CONNECTING) {
        started++;
        let counted = false;
        const settle = () => {
          if (counted) return;
          counted = true;
          settled++;
          if (settled === count) resolve();
          else setImmediate(next);
        };
        dial((d) => {
          settle();
          onConnect(d);
        }, (d, byServer) => {
          settle();
          onClose(d, byServer);
        });
      }
      if (stopped) resolve();
    };
    next();
  });
}

/* ---------------- (a) big frames ---------------- */
async function bigFrames(cmd: { count: number; announce: number; bodyChars: number; chunkChars: number; everyMs: number }) {
  const chunk = 'a'.repeat(cmd.chunkChars);
  const t0 = performance.now();
  await openMany(cmd.count, (d) => {
    send(d, `${cmd.announce}#`);
    let sent = 0;
    const timer = setInterval(() => {
      if (stopped || d.socket.destroyed) return clearInterval(timer);
      const n = Math.min(cmd.chunkChars, cmd.bodyChars - sent);
      if (n <= 0) return clearInterval(timer);
      send(d, n === cmd.chunkChars ? chunk : chunk.slice(0, n));
      sent += n;
    }, cmd.everyMs);
    d.socket.once('close', () => clearInterval(timer));
  }, () => undefined);
  return { connectMs: performance.now() - t0, open: sockets.size };
}

/* ---------------- (b) churn of fresh nodeIds ---------------- */
let churnSerial = 0;
let churnSecond: ReturnType<typeof setInterval> | undefined;
function churn(cmd: { concurrency: number; perSecond?: number }) {
  judgeCloses = false;
  const prefix = `churn-${process.pid}-${Date.now().toString(36)}`;
  let completedThisSecond = 0;
  churnSecond = setInterval(() => {
    stats.perSecond.push(completedThisSecond);
    completedThisSecond = 0;
  }, 1000);
  const t0 = performance.now();
  let started = 0;
  const one = () => {
    if (stopped) return;
    // With a rate: no more connections than perSecond × the time elapsed (a fixed load, the same in every phase).
    if (cmd.perSecond) {
      const dueAt = (started / cmd.perSecond) * 1000;
      const elapsed = performance.now() - t0;
      if (dueAt > elapsed) return void setTimeout(one, dueAt - elapsed);
    }
    started++;
    dial((d) => {
      // A hello with a nodeId never seen before, then FIN: the server joins it and loses it at once.
      const hello = JSON.stringify({ $hb: 'hello', v: 1, id: `${prefix}-${++churnSerial}`, meta: {} });
      send(d, `${hello.length}#${hello}`);
      stats.helloSent++;
      d.socket.end();
    }, () => {
      completedThisSecond++;
      setImmediate(one);
    });
  };
  for (let i = 0; i < cmd.concurrency; i++) one();
  return null;
}

/* ---------------- (c) slowloris ---------------- */
let slowTimers: Array<ReturnType<typeof setInterval>> = [];
async function slowloris(cmd: { count: number; trickleMs: number; redialEveryMs: number }) {
  const open = new Set<Dialled>();
  const onConnect = (d: Dialled) => {
    open.add(d);
    send(d, '200#{"$hb":"hello","id":"'); // a hello that never ends
  };
  const onClose = (d: Dialled) => void open.delete(d);
  // One shared trickle: a character on every open socket each trickleMs.
  slowTimers.push(setInterval(() => {
    for (const d of open) send(d, 'x');
  }, cmd.trickleMs));
  const t0 = performance.now();
  await openMany(cmd.count, onConnect, onClose);
  const connectMs = performance.now() - t0;
  let redialing = false;
  slowTimers.push(setInterval(async () => {
    if (redialing || stopped) return;
    redialing = true;
    const missing = cmd.count - sockets.size;
    if (missing > 0) await openMany(missing, onConnect, onClose);
    redialing = false;
  }, cmd.redialEveryMs));
  return { connectMs, open: open.size };
}

function stop() {
  stopped = true;
  clearInterval(churnSecond);
  for (const t of slowTimers) clearInterval(t);
  slowTimers = [];
  for (const s of sockets) s.destroy();
  return { destroyed: sockets.size };
}

serveCommands(async (cmd) => {
  if (cmd.addresses) addresses = cmd.addresses;
  switch (cmd.cmd) {
    case 'bigframes':
      return bigFrames(cmd as never);
    case 'churn':
      return churn(cmd as never);
    case 'slowloris':
      return slowloris(cmd as never);
    case 'status':
      return {
        ...stats, lifetimes: undefined, open: sockets.size - connecting, connecting, dials,
        lifetimeMs: summarizeLifetimes(stats.lifetimes), loopDelayMaxMs: eld.max / 1e6,
      };
    case 'reset':
      resetStats();
      eld.reset();
      return null;
    case 'stop':
      return stop();
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});

function summarizeLifetimes(values: number[]) {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  return { n: v.length, min: v[0], p50: v[Math.floor(v.length / 2)], max: v[v.length - 1] };
}

emit({ evt: 'ready', pid: process.pid });
