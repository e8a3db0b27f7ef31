/**
 * B7 server process: `node --expose-gc --import tsx bench/b7/hostile-server.ts <library root> [authToken]`
 * (cwd: the library root). A HeartbeatServer microservice of the library at that root, with its
 * defaults, `@MessagePattern('echo')` for the honest peer's requests and, when given, a shared
 * `authToken`. Only this process is measured.
 *
 * It samples itself every second (heap without GC, CPU, the worst event-loop delay of that
 * second, the peer table's size, connections and, where the library has it, sockets still
 * handshaking) and in phases the parent names (`phase`): CPU, event-loop delay percentiles,
 * joins and departures between two marks. `gc` takes memory after two full collections.
 *
 * Commands: status, gc, phase { name } (ends the current phase and starts `name`), series, exit.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { emit, serveCommands } from '../lib/proc.js';
import { defineModule, echoController, loadLibrary } from './library.js';
import { SERVER_NODE_ID } from './shared.js';

const root = process.argv[2];
const authToken = process.argv[3] || undefined;
const library = await loadLibrary(root);
const { HeartbeatModule, HeartbeatServer, PresenceService } = library.lib;

const AppModule = defineModule(library, 'B7ServerModule', {
  imports: [HeartbeatModule.forRoot({ nodeId: SERVER_NODE_ID, server: { host: '127.0.0.1', port: 0, ...(authToken ? { authToken } : {}) } })],
  controllers: [echoController(library)],
});
const app = await library.core.NestFactory.createMicroservice(AppModule, {
  inject: [HeartbeatServer], useFactory: (s: unknown) => ({ strategy: s }), logger: ['error'],
} as never);
const counts: Record<string, number> = { joined: 0, lost: 0, left: 0, suspect: 0, recovered: 0 };
let present = 0;
app.get(PresenceService).events$.subscribe((e: { type: string }) => {
  counts[e.type] = (counts[e.type] ?? 0) + 1;
  if (e.type === 'joined') present++;
  else if (e.type === 'lost' || e.type === 'left') present--;
});
await app.listen();
const server = app.get(HeartbeatServer) as InstanceType<typeof HeartbeatServer> & { pendingHandshakes?: number; server: Server };
// The table's entries: open peers and retained departed ones (a private Map in both versions).
const table = app.get(library.PeerTable) as unknown as { entries: Map<string, unknown> };
let accepted = 0;
let refusedAtAccept = 0;
// Runs after the server's own connection listener: a socket it refused is destroyed by then.
server.server.on('connection', (socket: Socket) => {
  accepted++;
  if (socket.destroyed) refusedAtAccept++;
});

const gc = (globalThis as { gc?: () => void }).gc;
const now = () => performance.now();

function status() {
  const tableSize = table.entries.size;
  return {
    connections: server.connections,
    // Only the library with the limits counts sockets still handshaking.
    pendingHandshakes: server.pendingHandshakes ?? null,
    accepted,
    refusedAtAccept,
    tableSize,
    present,
    retained: tableSize - present,
    counts: { ...counts },
  };
}

/* ---- per-second samples ---- */
interface Sample {
  t: number; heapUsed: number; rss: number; cpuPct: number; eldMaxMs: number;
  tableSize: number; retained: number; connections: number; pendingHandshakes: number | null; joined: number; accepted: number;
  refusedAtAccept: number;
}
const t0 = now();
const series: Sample[] = [];
const secondDelay = monitorEventLoopDelay({ resolution: 5 });
secondDelay.enable();
let lastT = now();
let lastCpu = process.cpuUsage();
setInterval(() => {
  const t = now();
  const cpu = process.cpuUsage();
  const m = process.memoryUsage();
  const s = status();
  series.push({
    t: Math.round(t - t0), heapUsed: m.heapUsed, rss: m.rss,
    cpuPct: (((cpu.user - lastCpu.user) + (cpu.system - lastCpu.system)) / 1000 / (t - lastT)) * 100,
    eldMaxMs: secondDelay.max / 1e6, tableSize: s.tableSize, retained: s.retained, connections: s.connections,
    pendingHandshakes: s.pendingHandshakes, joined: counts.joined, accepted, refusedAtAccept,
  });
  secondDelay.reset();
  lastT = t;
  lastCpu = cpu;
}, 1000).unref();

/* ---- phases ---- */
interface Phase {
  name: string; start: number; cpu: NodeJS.CpuUsage; counts: Record<string, number>; accepted: number; refusedAtAccept: number; delay: IntervalHistogram;
}
let phase: Phase | undefined;

function startPhase(name: string): void {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  phase = { name, start: now(), cpu: process.cpuUsage(), counts: { ...counts }, accepted, refusedAtAccept, delay };
}

function endPhase() {
  if (!phase) return null;
  const p = phase;
  phase = undefined;
  p.delay.disable();
  const elapsedMs = now() - p.start;
  const cpu = process.cpuUsage(p.cpu);
  const joins = counts.joined - (p.counts.joined ?? 0);
  const departures = (counts.lost + counts.left) - ((p.counts.lost ?? 0) + (p.counts.left ?? 0));
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    name: p.name, elapsedMs, cpuPct: (cpuMs / elapsedMs) * 100, cpuMs,
    joins, departures, accepted: accepted - p.accepted, refusedAtAccept: refusedAtAccept - p.refusedAtAccept,
    joinsPerSecond: joins / (elapsedMs / 1000),
    cpuUsPerJoin: joins > 0 ? (cpuMs * 1000) / joins : null,
    loopDelayMs: { p50: p.delay.percentile(50) / 1e6, p99: p.delay.percentile(99) / 1e6, max: p.delay.max / 1e6, n: p.delay.count },
    end: status(),
  };
}

async function collect() {
  const started = now();
  if (gc) {
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers, gcMs: now() - started, ...status() };
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'status':
      return status();
    case 'gc':
      return collect();
    case 'phase': {
      const ended = endPhase();
      if (cmd.name) startPhase(cmd.name);
      return ended;
    }
    case 'series':
      return series;
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, () => app.close());

const limits = readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/);
emit({ evt: 'ready', port: server.address!.port, pid: process.pid, nofile: limits ? Number(limits[1]) : 0, fds: readdirSync('/proc/self/fd').length });
