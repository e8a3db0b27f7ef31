/**
 * B6 peers: `node --import tsx bench/b6/peers.ts <tag> <host> <ports-json> <links-per-detector>`.
 * One process (in its own network namespace) holding `links` links to every detector of
 * detectors.ts, through the proxy at `host`. SIGSTOP of this process hangs all of them at once;
 * its veth going down cuts all of them.
 *
 * - ours: real HeartbeatClients (the library's link, ticker and detector, the same options as
 *   the observer's side, one nodeId each), built the way HeartbeatModule builds them.
 * - ws: `ws` clients (they answer pings by themselves); reconnect 500 ms after a close.
 * - Socket.IO: socket.io-client over websocket, reconnection 500–1000 ms.
 */
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { HeartbeatTicker } from '../../src/detector/heartbeat-ticker.js';
import { resolveHeartbeatOptions } from '../../src/options/resolve-options.js';
import { PeerTable } from '../../src/presence/peer-table.js';
import { HeartbeatClient } from '../../src/transport/heartbeat-client.js';
import { emit, serveCommands } from '../lib/proc.js';
import { DETECTORS, type DetectorConfig } from './detectors.js';

Logger.overrideLogger(['error']);
const [tag, host, portsJson, linksArg] = process.argv.slice(2);
const ports = JSON.parse(portsJson) as Record<string, number>;
const links = Number(linksArg);
const peerId = (d: DetectorConfig, i: number) => `${tag}/${d.name}/${i}`;

function ours(d: DetectorConfig): void {
  const options = (id: string) => {
    const resolved = resolveHeartbeatOptions({
      nodeId: id,
      heartbeat: { intervalMs: d.intervalMs, detector: d.family === 'adaptive' ? 'adaptive' : 'fixed' },
      clients: [{ name: 'OBSERVER', host, port: ports[d.name], reconnect: { initialDelayMs: 200, maxDelayMs: 1000 } }],
    });
    if (d.levels) Object.assign(resolved.heartbeat.adaptiveLevels, d.levels);
    return resolved;
  };
  const first = options(peerId(d, 0));
  const ticker = new HeartbeatTicker(first.heartbeat.rule);
  const table = new PeerTable(ticker, first);
  for (let i = 0; i < links; i++) {
    const resolved = i === 0 ? first : options(peerId(d, i));
    void new HeartbeatClient(resolved.clients[0], resolved, ticker, table).connect().catch(() => undefined);
  }
}

function ws(d: DetectorConfig): void {
  for (let i = 0; i < links; i++) {
    const open = () => {
      const socket = new WebSocket(`ws://${host}:${ports[d.name]}/?id=${encodeURIComponent(peerId(d, i))}`, { perMessageDeflate: false });
      socket.on('error', () => undefined);
      socket.on('close', () => setTimeout(open, 500));
    };
    open();
  }
}

function socketIo(d: DetectorConfig): void {
  for (let i = 0; i < links; i++) {
    io(`http://${host}:${ports[d.name]}`, {
      transports: ['websocket'], query: { id: peerId(d, i) }, reconnectionDelay: 500, reconnectionDelayMax: 1000,
    });
  }
}

for (const d of DETECTORS) {
  if (d.family === 'ws') ws(d);
  else if (d.family === 'socket.io') socketIo(d);
  else ours(d);
}
serveCommands(() => null);
emit({ evt: 'ready' });
