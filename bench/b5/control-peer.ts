/**
 * B5 control peer: `node --import tsx bench/b5/control-peer.ts <port>`. A real Nest application
 * context whose HeartbeatClient (defaults: intervalMs 1000, suspect after 1,500 ms of silence)
 * stays connected to the control server that shares its process with the storm. It judges that
 * server with its own detector, in its own process, so the storm server's loop lag does not
 * stretch its thresholds: a `suspect` here means the storm delayed the control server's frames
 * past the threshold. It also samples the longest silence it heard (now − lastSeenAt, every 20 ms).
 *
 * Commands: status, mark (resets the counters), exit.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HeartbeatModule, PresenceService } from '../../src/index.js';
import { emit, serveCommands } from '../lib/proc.js';

const port = Number(process.argv[2]);
const SERVER_ID = 'b5-control-server';

@Module({ imports: [HeartbeatModule.forRoot({ nodeId: 'b5-control-peer', clients: [{ name: 'CONTROL', host: '127.0.0.1', port }] })] })
class ControlPeerModule {}

const app = await NestFactory.createApplicationContext(ControlPeerModule, { logger: ['error', 'warn'] });
await app.init();
const presence = app.get(PresenceService);
let events: Record<string, number> = {};
let maxSilenceMs = 0;
presence.events$.subscribe((e) => {
  if (e.peer.id === SERVER_ID) events[e.type] = (events[e.type] ?? 0) + 1;
});
setInterval(() => {
  const peer = presence.get(SERVER_ID);
  if (peer?.status === 'alive' || peer?.status === 'suspect') maxSilenceMs = Math.max(maxSilenceMs, Date.now() - peer.lastSeenAt);
}, 20);

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'status':
      return { status: presence.get(SERVER_ID)?.status ?? null, rttMs: presence.get(SERVER_ID)?.rttMs ?? null, events: { ...events }, maxSilenceMs };
    case 'mark':
      events = {};
      maxSilenceMs = 0;
      return null;
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, () => app.close());

emit({ evt: 'ready', pid: process.pid });
