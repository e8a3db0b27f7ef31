/**
 * B2 server process (run with --expose-gc): `node --expose-gc --import tsx bench/b2/hb-server.ts <ours|ws> <intervalMs>`.
 *
 * ours: a HeartbeatServer microservice (HeartbeatModule.forRoot({ server, heartbeat: { intervalMs } })),
 *       presence events counted from PresenceService.events$.
 * ws:   a `ws` WebSocketServer with the README heartbeat: one setInterval pings every client,
 *       a client that has not answered the previous ping is terminated (counted as `lost`).
 * raw:  the floor: a bare `net` server speaking the same protocol as ours with nothing else
 *       (welcome, pong, ping when idle for an interval, lost after 3.5 intervals of silence),
 *       one shared timer scanning every socket each interval / 10.
 * Only this process is measured: CPU from process.cpuUsage() deltas, memory after GC, active resources.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createServer, type Socket } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { WebSocketServer, type WebSocket } from 'ws';
import { HeartbeatModule, HeartbeatServer, PresenceService } from '../../src/index.js';
import { emit, serveCommands } from '../lib/proc.js';

const impl = process.argv[2] === 'ws' || process.argv[2] === 'raw' ? process.argv[2] : 'ours';
const intervalMs = Number(process.argv[3] ?? 1000);
const counts: Record<string, number> = { joined: 0, suspect: 0, recovered: 0, lost: 0, left: 0 };
let port: number;
let connections: () => number;
let close: () => Promise<void> | void;

if (impl === 'ours') {
  @Module({
    imports: [HeartbeatModule.forRoot({ nodeId: 'b2-server', server: { host: '127.0.0.1', port: 0 }, heartbeat: { intervalMs } })],
  })
  class ServerModule {}
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(ServerModule, {
    inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger: ['error', 'warn'],
  } as never);
  app.get(PresenceService).events$.subscribe((e) => {
    counts[e.type] = (counts[e.type] ?? 0) + 1;
  });
  await app.listen();
  const server = app.get(HeartbeatServer);
  port = server.address!.port;
  connections = () => server.connections;
  close = () => app.close();
} else if (impl === 'raw') {
  interface Raw { socket: Socket; pending: string; heard: number; sent: number; seq: number; open: boolean }
  const links = new Set<Raw>();
  const write = (r: Raw, frame: object) => {
    const json = JSON.stringify(frame);
    r.socket.write(`${json.length}#${json}`);
    r.sent = Date.now();
  };
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    const r: Raw = { socket, pending: '', heard: Date.now(), sent: Date.now(), seq: 0, open: false };
    links.add(r);
    socket.on('data', (chunk: string) => {
      r.heard = Date.now();
      let buf = r.pending + chunk;
      for (;;) {
        const hash = buf.indexOf('#');
        if (hash < 0) break;
        const len = Number(buf.slice(0, hash));
        if (buf.length - hash - 1 < len) break;
        const f = JSON.parse(buf.slice(hash + 1, hash + 1 + len));
        buf = buf.slice(hash + 1 + len);
        if (f.$hb === 'hello') {
          r.open = true;
          counts.joined++;
          write(r, { $hb: 'welcome', v: 1, id: 'b2-raw', meta: {} });
        } else if (f.$hb === 'ping') {
          write(r, { $hb: 'pong', seq: f.seq, t: f.t });
        }
      }
      r.pending = buf;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => links.delete(r));
  });
  server.listen(0, '127.0.0.1', 4096);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as { port: number }).port;
  const tick = Math.max(5, Math.min(100, Math.round(intervalMs / 10)));
  const timer = setInterval(() => {
    const now = Date.now();
    for (const r of links) {
      if (!r.open) continue;
      if (now - r.heard > 3.5 * intervalMs) {
        counts.lost++;
        r.socket.destroy();
      } else if (now - r.sent >= intervalMs - tick / 2) {
        write(r, { $hb: 'ping', seq: ++r.seq, t: now });
      }
    }
  }, tick);
  connections = () => links.size;
  close = () => new Promise<void>((resolve) => {
    clearInterval(timer);
    for (const r of links) r.socket.destroy();
    server.close(() => resolve());
  });
} else {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, backlog: 4096 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  port = (wss.address() as { port: number }).port;
  type Live = WebSocket & { isAlive?: boolean };
  function heartbeat(this: Live) {
    this.isAlive = true;
  }
  wss.on('connection', (ws: Live) => {
    counts.joined++;
    ws.isAlive = true;
    ws.on('error', () => undefined);
    ws.on('pong', heartbeat);
  });
  const interval = setInterval(() => {
    wss.clients.forEach((ws: Live) => {
      if (ws.isAlive === false) {
        counts.lost++;
        return ws.terminate();
      }
      ws.isAlive = false;
      ws.ping();
    });
  }, intervalMs);
  wss.on('close', () => clearInterval(interval));
  connections = () => wss.clients.size;
  close = () => new Promise<void>((resolve) => {
    for (const ws of wss.clients) ws.terminate();
    wss.close(() => resolve());
  });
}

const gc = (globalThis as { gc?: () => void }).gc;

function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

async function snapshot() {
  if (gc) {
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
  }
  const m = process.memoryUsage();
  return {
    gcAvailable: !!gc,
    rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers,
    resources: resources(),
    fds: readdirSync('/proc/self/fd').length,
    connections: connections(),
    counts: { ...counts },
  };
}

/** CPU % of one core over `ms`, with one sample per second, and event-loop utilisation. */
async function measureWindow(ms: number) {
  const before = { ...counts };
  const samples: number[] = [];
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let pt = t0;
  let pc = c0;
  while (performance.now() - t0 < ms - 1) {
    await new Promise((r) => setTimeout(r, Math.min(1000, ms - (performance.now() - t0))));
    const t = performance.now();
    const c = process.cpuUsage();
    samples.push((((c.user - pc.user) + (c.system - pc.system)) / 1000 / (t - pt)) * 100);
    pt = t;
    pc = c;
  }
  const elapsed = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const elu = performance.eventLoopUtilization(elu0);
  delay.disable();
  const during: Record<string, number> = {};
  for (const k of Object.keys(counts)) during[k] = counts[k] - (before[k] ?? 0);
  return {
    elapsedMs: elapsed,
    cpuPct: (((c.user + c.system) / 1000) / elapsed) * 100,
    userPct: ((c.user / 1000) / elapsed) * 100,
    systemPct: ((c.system / 1000) / elapsed) * 100,
    perSecondPct: samples,
    eventLoopUtilization: elu.utilization,
    // How long the loop was blocked at a time (a ping burst is one block): what a request waits behind.
    loopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
    eventsDuringWindow: during,
    connections: connections(),
  };
}

/** Runs `fn` under the V8 sampling profiler (inspector), writing a .cpuprofile to `file`. */
async function profiled<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<any>((resolve, reject) =>
    session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 1000 });
  await post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  }
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'snapshot':
      return snapshot();
    case 'heapsnapshot': {
      const { writeHeapSnapshot } = await import('node:v8');
      gc?.();
      return writeHeapSnapshot(cmd.file);
    }
    case 'status':
      return { connections: connections(), counts: { ...counts } };
    case 'window':
      if (!cmd.profile) return measureWindow(cmd.ms);
      return profiled(cmd.profile, () => measureWindow(cmd.ms));
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, () => close());

const limits = readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/);
const nofile = limits ? Number(limits[1]) : 0;
emit({ evt: 'ready', impl, port, pid: process.pid, nofile, fds: readdirSync('/proc/self/fd').length });
