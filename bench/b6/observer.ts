/**
 * B6 observer: `node --import tsx bench/b6/observer.ts`. One server per detector of detectors.ts,
 * all in this process, each reporting its verdicts on its peers as lines
 * `{ evt: 'v', det, peer, type, reason?, t }` (t: epoch ms from performance.now(), the clock
 * the orchestrator stamps faults with).
 *
 * - ours (`fixed`, `adaptive`): a HeartbeatServer with its own ticker and peer table, built the
 *   way HeartbeatModule builds them; `adaptive` levels are set on the resolved options.
 *   Verdicts: the PresenceService events (joined, suspect, recovered, lost, left).
 * - ws: a `ws` server with the README's heartbeat idiom (every interval: terminate the sockets
 *   whose last ping got no pong, then ping all). Verdicts: joined, lost (terminated or closed).
 * - Socket.IO: a server with pingInterval/pingTimeout, websocket transport. Verdicts: joined,
 *   lost (`disconnect`, with its reason).
 *
 * Commands: { cmd: 'start' } → { det: port }; { cmd: 'stats' } (loop delay since the last call).
 */
import 'reflect-metadata';
import { createServer } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Server as SocketIoServer } from 'socket.io';
import { WebSocketServer, type WebSocket } from 'ws';
import { HeartbeatTicker } from '../../src/detector/heartbeat-ticker.js';
import { resolveHeartbeatOptions } from '../../src/options/resolve-options.js';
import { PeerTable } from '../../src/presence/peer-table.js';
import { PresenceService } from '../../src/presence/presence.service.js';
import { HeartbeatServer } from '../../src/transport/heartbeat-server.js';
import { emit, serveCommands } from '../lib/proc.js';
import { DETECTORS, type DetectorConfig } from './detectors.js';

const now = () => performance.timeOrigin + performance.now();
const verdict = (det: string, peer: string, type: string, reason?: string) => emit({ evt: 'v', det, peer, type, reason, t: now() });

async function startOurs(d: DetectorConfig): Promise<number> {
  const resolved = resolveHeartbeatOptions({
    nodeId: `b6-${d.name}`,
    server: { host: '127.0.0.1', port: 0 },
    heartbeat: { intervalMs: d.intervalMs, detector: d.family === 'adaptive' ? 'adaptive' : 'fixed' },
  });
  if (d.levels) Object.assign(resolved.heartbeat.adaptiveLevels, d.levels);
  const ticker = new HeartbeatTicker(resolved.heartbeat.rule);
  const table = new PeerTable(ticker, resolved);
  new PresenceService(table).events$.subscribe((e) => verdict(d.name, e.peer.id, e.type, e.reason));
  const server = new HeartbeatServer({ ...resolved, server: resolved.server! }, ticker, table);
  await new Promise<void>((resolve, reject) => server.listen((err?: unknown) => (err ? reject(err) : resolve())));
  return server.address!.port;
}

async function startWs(d: DetectorConfig): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const alive = new WeakMap<WebSocket, boolean>();
  const ids = new WeakMap<WebSocket, string>();
  wss.on('connection', (socket, req) => {
    const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id') ?? '?';
    ids.set(socket, id);
    alive.set(socket, true);
    verdict(d.name, id, 'joined');
    socket.on('pong', () => alive.set(socket, true));
    socket.on('error', () => undefined);
    socket.on('close', () => verdict(d.name, id, 'lost', alive.get(socket) === false ? 'terminated' : 'closed'));
  });
  setInterval(() => {
    for (const socket of wss.clients) {
      if (alive.get(socket) === false) {
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, d.intervalMs);
  await new Promise<void>((resolve) => wss.on('listening', () => resolve()));
  return (wss.address() as { port: number }).port;
}

async function startSocketIo(d: DetectorConfig): Promise<number> {
  const http = createServer();
  const io = new SocketIoServer(http, { pingInterval: d.intervalMs, pingTimeout: d.timeoutMs, transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    const id = String(socket.handshake.query.id ?? '?');
    verdict(d.name, id, 'joined');
    socket.on('disconnect', (reason) => verdict(d.name, id, 'lost', reason));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  return (http.address() as { port: number }).port;
}

const eld = monitorEventLoopDelay({ resolution: 5 });
eld.enable();

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'start': {
      const ports: Record<string, number> = {};
      for (const d of DETECTORS) {
        ports[d.name] = d.family === 'ws' ? await startWs(d) : d.family === 'socket.io' ? await startSocketIo(d) : await startOurs(d);
      }
      return ports;
    }
    case 'stats': {
      const stats = { loopDelayMs: { p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 } };
      eld.reset();
      return stats;
    }
    default:
      throw new Error(`unknown command ${String(cmd.cmd)}`);
  }
});
emit({ evt: 'ready' });
