/**
 * B2 load: many idle peers in one process. `node --import tsx bench/b2/lean-clients.ts <ours|ws> <port> <intervalMs>`.
 *
 * ours: a lean client that speaks the heartbeat protocol (src/protocol/frames.ts) over raw sockets:
 *       hello, then answers every ping with a pong echoing seq and t, and pings when it sent
 *       nothing for intervalMs (one shared timer for all sockets).
 * ws:   `ws` WebSocket clients; they answer the server's pings automatically.
 * Commands: { cmd: 'connect', count, addresses: string[] } opens `count` more links from the given
 * source addresses (so loopback's ~28k ephemeral ports per address never run out), paced;
 * { cmd: 'status' }; { cmd: 'close' }.
 */
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { emit, serveCommands } from '../lib/proc.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';

const MAX_FRAME = 1024 * 1024;

const impl = process.argv[2] === 'ws' ? 'ws' : 'ours';
const port = Number(process.argv[3]);
const intervalMs = Number(process.argv[4] ?? 1000);
const PER_ADDRESS = 5000;
const MAX_PENDING = 200;

interface Peer {
  socket: Socket;
  /** The library's own decoder: these peers frame exactly as ours do. */
  decoder: FrameDecoder;
  lastSent: number;
  seq: number;
  open: boolean;
  /** Settles the connect() that opened it. */
  settle: () => void;
}

const peers: Peer[] = [];
const sockets: WebSocket[] = [];
let opened = 0;
let closed = 0;
let errors = 0;
let pingsAnswered = 0;
let pingsSent = 0;
let serial = 0;

function send(p: Peer, frame: object): void {
  const json = JSON.stringify(frame);
  p.socket.write(`${json.length}#${json}`);
  p.lastSent = Date.now();
}

function onFrame(p: Peer, f: { $hb?: string; seq?: number; t?: number }): void {
  switch (f.$hb) {
    case 'welcome':
      p.open = true;
      opened++;
      p.settle();
      return;
    case 'ping':
      pingsAnswered++;
      send(p, { $hb: 'pong', seq: f.seq, t: f.t });
      return;
    case 'bye':
      p.socket.end();
      return;
    default:
      return; // pongs to our pings, or data: nothing to do
  }
}

function onData(p: Peer, chunk: string): void {
  p.decoder.push(chunk, (frame) => onFrame(p, frame));
}

function openOurs(localAddress: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const p: Peer = { socket, decoder: new FrameDecoder(MAX_FRAME), lastSent: Date.now(), seq: 0, open: false, settle: resolve };
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.on('connect', () => send(p, { $hb: 'hello', v: 1, id: `lean-${process.pid}-${serial++}`, meta: {} }));
    socket.on('data', (d: string) => onData(p, d));
    socket.on('error', () => {
      errors++;
      resolve();
    });
    socket.on('close', () => {
      if (p.open) closed++;
      p.open = false;
      resolve();
    });
    peers.push(p);
  });
}

function openWs(localAddress: string): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { localAddress, perMessageDeflate: false });
    let wasOpen = false;
    ws.on('open', () => {
      wasOpen = true;
      opened++;
      resolve();
    });
    ws.on('ping', () => pingsAnswered++);
    ws.on('error', () => {
      errors++;
      resolve();
    });
    ws.on('close', () => {
      if (wasOpen) closed++;
      resolve();
    });
    sockets.push(ws);
  });
}

/** The lean client's own heartbeat: ping a link on which nothing was sent for an interval. */
if (impl === 'ours') {
  const tick = Math.max(5, Math.min(100, Math.round(intervalMs / 10)));
  setInterval(() => {
    const now = Date.now();
    for (const p of peers) {
      if (p.open && now - p.lastSent >= intervalMs) {
        pingsSent++;
        send(p, { $hb: 'ping', seq: ++p.seq, t: now });
      }
    }
  }, tick);
}

let opening = 0;
async function connectMany(count: number, addresses: string[]) {
  const t0 = Date.now();
  const start = opening;
  const failedBefore = errors;
  const tasks: Promise<void>[] = [];
  let inFlight = 0;
  let slot: (() => void) | null = null;
  for (let i = 0; i < count; i++) {
    const address = addresses[Math.floor((start + i) / PER_ADDRESS) % addresses.length];
    while (inFlight >= MAX_PENDING) await new Promise<void>((resolve) => (slot = resolve));
    inFlight++;
    opening++;
    tasks.push((impl === 'ours' ? openOurs(address) : openWs(address)).finally(() => {
      inFlight--;
      const s = slot;
      slot = null;
      s?.();
    }));
  }
  await Promise.all(tasks);
  return { opened, failed: errors - failedBefore, ms: Date.now() - t0 };
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'connect':
      return connectMany(cmd.count, cmd.addresses);
    case 'status':
      return { opened, closed, errors, open: opened - closed, pingsAnswered, pingsSent };
    case 'close':
      for (const p of peers) p.socket.destroy();
      for (const ws of sockets) ws.terminate();
      return { closed: peers.length + sockets.length };
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
});

emit({ evt: 'ready', impl, pid: process.pid });
