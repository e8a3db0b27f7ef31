/**
 * B5 server process: `node --import tsx bench/b5/storm-server.ts <ours|stock>`.
 *
 * Hosts the *storm* server, which is restarted in-process (`app.close()`, then a new app on the
 * same port), and, for ours, a second HeartbeatServer (*control*) that is never restarted and
 * holds one healthy control peer: the storm shares its event loop, which is what could delay
 * that peer's heartbeat.
 *
 * ours:  HeartbeatModule.forRoot({ server }) microservice; a peer is back when the new app's
 *        PresenceService emits `joined` for it.
 * stock: Transport.TCP (ServerTCP) microservice with `@MessagePattern('hello')`; a peer is back
 *        when its first request after the restart reaches the handler (it then gets its reply).
 *
 * Commands: start, status, restart { expected, timeoutMs } (→ timeline and counts), exit.
 */
import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { HeartbeatModule, HeartbeatServer, PresenceService } from '../../src/index.js';
import { emit, serveCommands } from '../lib/proc.js';

const impl = process.argv[2] === 'stock' ? 'stock' : 'ours';
const now = () => performance.timeOrigin + performance.now();

/** The current storm app's view: first time each peer came back, and repeats. */
let seen = new Map<string, number>();
let repeats = 0;
let lostOrLeft = 0;
let lossReasons: Record<string, number> = {};
/** ours: sockets the storm server closed at accept (the library's maxPendingHandshakes), since the last start. */
let refusedAtAccept = 0;
let onSeen: (() => void) | null = null;

/** ours: peers joined and not lost or left since; a `joined` for one of them would be a peer reported twice. */
let present = new Set<string>();
let duplicates = 0;

function record(id: string): void {
  if (present.has(id)) duplicates++;
  present.add(id);
  if (seen.has(id)) {
    repeats++; // back again after a loss (ours) or a new connection (stock)
    return;
  }
  seen.set(id, now());
  onSeen?.();
}

@Controller()
class StockController {
  @MessagePattern('hello') hello(id: string) {
    record(String(id));
    return 'ok';
  }
}

let storm: INestMicroservice | undefined;
let stormPort = 0;
let stormConnections: () => number = () => 0;
const control = { events: {} as Record<string, number>, port: 0, app: undefined as INestMicroservice | undefined };

async function startStorm(port: number): Promise<void> {
  seen = new Map();
  repeats = 0;
  lostOrLeft = 0;
  lossReasons = {};
  present = new Set();
  duplicates = 0;
  refusedAtAccept = 0;
  if (impl === 'ours') {
    @Module({ imports: [HeartbeatModule.forRoot({ nodeId: 'b5-storm-server', server: { host: '127.0.0.1', port } })] })
    class StormModule {}
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(StormModule, {
      inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger: ['error'],
    } as never);
    app.get(PresenceService).events$.subscribe((e) => {
      if (e.type === 'joined') record(e.peer.id);
      else if (e.type === 'lost' || e.type === 'left') {
        present.delete(e.peer.id);
        lostOrLeft++;
        const why = e.reason ?? e.type;
        lossReasons[why] = (lossReasons[why] ?? 0) + 1;
      }
    });
    await app.listen();
    const server = app.get(HeartbeatServer);
    // Runs after the server's own connection listener: a socket it refused (over maxPendingHandshakes) is destroyed by then.
    (server as unknown as { server: import('node:net').Server }).server.on('connection', (socket) => {
      if (socket.destroyed) refusedAtAccept++;
    });
    stormPort = server.address!.port;
    stormConnections = () => server.connections;
    storm = app;
  } else {
    @Module({ controllers: [StockController] })
    class StockModule {}
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(StockModule, {
      transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: ['error'],
    });
    await app.listen();
    const server = (app as unknown as { serverInstance: { server: import('node:net').Server } }).serverInstance.server;
    stormPort = (server.address() as { port: number }).port;
    stormConnections = () => seen.size;
    storm = app;
  }
}

async function startControl(): Promise<void> {
  @Module({ imports: [HeartbeatModule.forRoot({ nodeId: 'b5-control-server', server: { host: '127.0.0.1', port: 0 } })] })
  class ControlModule {}
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(ControlModule, {
    inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger: ['error', 'warn'],
  } as never);
  app.get(PresenceService).events$.subscribe((e) => {
    control.events[e.type] = (control.events[e.type] ?? 0) + 1;
  });
  await app.listen();
  control.port = app.get(HeartbeatServer).address!.port;
  control.app = app;
}

/** Closes the storm app and starts a new one on the same port; resolves once `expected` peers are back. */
async function restart(expected: number, timeoutMs: number) {
  const controlBefore = { ...control.events };
  const eld = monitorEventLoopDelay({ resolution: 10 });
  const cpu: Array<{ t: number; pct: number }> = [];
  let pt = now();
  let pc = process.cpuUsage();
  const sampler = setInterval(() => {
    const t = now();
    const c = process.cpuUsage();
    cpu.push({ t, pct: (((c.user - pc.user) + (c.system - pc.system)) / 1000 / (t - pt)) * 100 });
    pt = t;
    pc = c;
  }, 100);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  eld.enable();
  await storm!.close();
  const tClosed = now();
  await startStorm(stormPort);
  const tListening = now();
  const allBack = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    onSeen = () => {
      if (seen.size >= expected) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    onSeen();
  });
  const complete = await allBack;
  onSeen = null;
  const tAll = now();
  const cpuStorm = process.cpuUsage(cpu0);
  // Anything reported twice shows up shortly after, not only during the storm.
  await new Promise((r) => setTimeout(r, 1500));
  eld.disable();
  clearInterval(sampler);
  const times = [...seen.values()].sort((a, b) => a - b);
  const perSecond: number[] = [];
  for (const t of times) {
    const s = Math.floor((t - tListening) / 1000);
    perSecond[s] = (perSecond[s] ?? 0) + 1;
  }
  const stormCpu = cpu.filter((s) => s.t >= t0 && s.t <= tAll + 100);
  const controlDuring: Record<string, number> = {};
  for (const k of Object.keys(control.events)) controlDuring[k] = control.events[k] - (controlBefore[k] ?? 0);
  return {
    expected, complete, back: seen.size, repeats, duplicates, lostOrLeftAfterRestart: lostOrLeft, lossReasons,
    closeMs: tClosed - t0, listeningMs: tListening - t0,
    allBackFromRestartMs: complete ? tAll - t0 : null,
    allBackFromListeningMs: complete ? tAll - tListening : null,
    firstBackFromListeningMs: times.length ? times[0] - tListening : null,
    /** Peers back per second after the new server listened (index = second). */
    perSecond: Array.from(perSecond, (x) => x ?? 0),
    handshakesPerSecondPeak: Math.max(0, ...Array.from(perSecond, (x) => x ?? 0)),
    handshakesPerSecondMean: times.length > 1 ? (times.length / ((times[times.length - 1] - times[0]) / 1000)) : null,
    cpuPeak100msPct: Math.max(0, ...stormCpu.map((s) => s.pct)),
    cpuMeanPct: ((cpuStorm.user + cpuStorm.system) / 1000 / (tAll - t0)) * 100,
    cpuPer100ms: stormCpu.map((s) => Math.round(s.pct)),
    eventLoopDelayMs: { max: eld.max / 1e6, p99: eld.percentile(99) / 1e6, p50: eld.percentile(50) / 1e6, mean: eld.mean / 1e6 },
    controlServerEvents: controlDuring,
    connections: stormConnections(),
    refusedAtAccept,
  };
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'status':
      return { back: seen.size, repeats, connections: stormConnections(), control: { ...control.events } };
    case 'restart':
      return restart(cmd.expected, cmd.timeoutMs ?? 30_000);
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, async () => {
  await storm?.close();
  await control.app?.close();
});

await startStorm(0);
if (impl === 'ours') await startControl();
const limits = readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/);
emit({ evt: 'ready', impl, port: stormPort, controlPort: control.port, pid: process.pid, nofile: limits ? Number(limits[1]) : 0, fds: readdirSync('/proc/self/fd').length });
