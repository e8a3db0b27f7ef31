/**
 * B7 honest peer: `node --import tsx bench/b7/honest-peer.ts <library root> <port> <nodeId> [authToken]`
 * (cwd: the library root). A Nest application context whose HeartbeatClient (the library's
 * defaults: intervalMs 1000, suspect after 1.5 s of silence, lost after 3.5 s) connects to the
 * attacked server, in its own process: it judges that server with its own detector, so the
 * server's loop lag does not stretch its thresholds.
 *
 * What a user of the attacked server would check: its status as this peer sees it (events:
 * suspect, lost), the longest silence heard from it (now − lastSeenAt, every 20 ms) and the
 * round trip of a real request (`send('echo')` every 100 ms, answered by the server's handler).
 * (With a request every 100 ms the link is never idle, so neither side pings: the requests are
 * the beats, and their round trip is the RTT.)
 * `joinedMs`: from app.init() (the client dials at bootstrap) to the server's `joined`.
 *
 * Commands: status, mark (resets the counters), exit.
 */
import { performance } from 'node:perf_hooks';
import { emit, serveCommands } from '../lib/proc.js';
import { quantileSorted } from '../lib/common.js';
import { defineModule, loadLibrary } from './library.js';
import { SERVER_NODE_ID } from './shared.js';

const [root, portText, nodeId, authToken] = process.argv.slice(2);
const library = await loadLibrary(root);
const { HeartbeatModule, PresenceService } = library.lib;
const CLIENT = 'B7_SERVER';
const ECHO_EVERY_MS = 100;
const ECHO_TIMEOUT_MS = 5000;

const AppModule = defineModule(library, 'B7HonestModule', {
  imports: [HeartbeatModule.forRoot({
    nodeId, clients: [{ name: CLIENT, host: '127.0.0.1', port: Number(portText), ...(authToken ? { authToken } : {}) }],
  })],
});
const app = await library.core.NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
const presence = app.get(PresenceService);
const client = app.get(CLIENT) as { send(pattern: string, data: unknown): { subscribe(o: { next(v: unknown): void; error(e: unknown): void }): { unsubscribe(): void } } };

let events: Record<string, number> = {};
let joinedMs: number | null = null;
let maxSilenceMs = 0;
let echoRtts: number[] = [];
let echoFailed = 0;
let echoErrors: Record<string, number> = {};

const tInit = performance.now();
presence.events$.subscribe((e: { type: string; peer: { id: string } }) => {
  if (e.peer.id !== SERVER_NODE_ID) return;
  events[e.type] = (events[e.type] ?? 0) + 1;
  if (e.type === 'joined' && joinedMs === null) {
    joinedMs = performance.now() - tInit;
    emit({ evt: 'joined', joinedMs });
  }
});
await app.init();

setInterval(() => {
  const peer = presence.get(SERVER_NODE_ID);
  if (peer?.status === 'alive' || peer?.status === 'suspect') maxSilenceMs = Math.max(maxSilenceMs, Date.now() - peer.lastSeenAt);
}, 20);

let seq = 0;
setInterval(() => {
  const peer = presence.get(SERVER_NODE_ID);
  if (peer?.status !== 'alive' && peer?.status !== 'suspect') return;
  const sent = performance.now();
  let settled = false;
  const done = (error?: unknown) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (error === undefined) {
      echoRtts.push(performance.now() - sent);
    } else {
      echoFailed++;
      const key = String((error as Error)?.name ?? error).slice(0, 60);
      echoErrors[key] = (echoErrors[key] ?? 0) + 1;
    }
  };
  const sub = client.send('echo', ++seq).subscribe({ next: () => done(), error: (e) => done(e ?? 'error') });
  const timer = setTimeout(() => {
    sub.unsubscribe();
    done(new Error(`no answer within ${ECHO_TIMEOUT_MS} ms`));
  }, ECHO_TIMEOUT_MS);
}, ECHO_EVERY_MS);

function quantiles(values: number[]) {
  const v = [...values].sort((a, b) => a - b);
  return { n: v.length, p50: quantileSorted(v, 0.5), p99: quantileSorted(v, 0.99), max: v.length ? v[v.length - 1] : NaN };
}

serveCommands((cmd) => {
  switch (cmd.cmd) {
    case 'status': {
      const peer = presence.get(SERVER_NODE_ID);
      return {
        status: peer?.status ?? null, joinedMs, events: { ...events }, maxSilenceMs,
        echo: { ...quantiles(echoRtts), failed: echoFailed, errors: { ...echoErrors } },
      };
    }
    case 'mark':
      events = {};
      maxSilenceMs = 0;
      echoRtts = [];
      echoFailed = 0;
      echoErrors = {};
      return null;
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, () => app.close());

emit({ evt: 'ready', pid: process.pid });
