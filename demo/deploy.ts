/**
 * The deploy demo: `npm start -- --deploy`. A rolling update of a service under steady requests.
 *
 * A Service (lab/tcp-balancer.ts, the lab's stand-in for a Kubernetes Service: one address,
 * round robin over its endpoints) stands in front of server-1 (server-app.ts). Four peers
 * (peer-app.ts) call it through that address, each a request every 40 ms that takes 150 ms to
 * serve, so a few are always in flight. Then the update, as Kubernetes runs it for one replica
 * (maxSurge 1, maxUnavailable 0):
 *
 *   1. server-2 starts; once it listens it is added to the Service's endpoints (readiness);
 *   2. server-1 is taken out of the endpoints, then gets SIGTERM (in Kubernetes both happen at
 *      once, and a preStop sleep makes SIGTERM wait for the endpoint removal to spread);
 *   3. server-1 drains: its peers send no new request on that link and connect again at once,
 *      through the Service, to server-2; the requests in flight on server-1 finish; then it
 *      says goodbye and exits.
 *
 * What must hold: 0 failed requests; every peer records server-1 `left` and server-2 `joined`;
 * none records a `lost`. Exit code 0 when it does.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TcpBalancer, type Endpoint } from '../lab/tcp-balancer.js';
import type { PresenceEvent } from '../src/index.js';
import { ChildApp, killAllChildren, type LogRecord, type Report } from './support/child-app.js';
import { Dashboard, pad, padStart } from './support/dashboard.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PEERS = ['peer-1', 'peer-2', 'peer-3', 'peer-4'];
const INTERVAL_MS = 500;
const WORK_EVERY_MS = 40; // per peer: 100 requests/s in all
const WORK_MS = 150; // each request takes this long to serve: ~15 in flight at any time
/** A request made while its client has no link waits this long for one (`waitForReadyMs`). */
const WAIT_FOR_READY_MS = 5000;
/** The library's default `server.drainTimeoutMs`. */
const DRAIN_TIMEOUT_MS = 5000;
/** A request unanswered this long is hung (work takes 150 ms; a wait for a link at most 5 s). */
const HUNG_AFTER_MS = WAIT_FOR_READY_MS + 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Work { peer: string; n: number; at: number; ms: number; ok: boolean; error?: string }
interface Seen extends PresenceEvent { by: string }

export async function runDeployDemo(): Promise<number> {
  const ui = new Dashboard();
  const { c } = ui;
  const t0 = Date.now();
  const stamp = (at = Date.now()) => c.dim(`+${((at - t0) / 1000).toFixed(1).padStart(5)}s`);
  let service: TcpBalancer | undefined;
  const cleanup = () => {
    killAllChildren();
    ui.restoreTerminal();
  };
  process.on('exit', cleanup);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      ui.stop();
      process.stdout.write(`\n${signal}: stopping every process\n`);
      cleanup();
      process.exit(code);
    });
  }

  const work: Work[] = [];
  const seen: Seen[] = [];
  const sent = new Map<string, number>(PEERS.map((p) => [p, 0]));
  let sigtermAt: number | undefined;
  /** After the summary: the teardown's own events (the peers' requests cut by their own shutdown) are not part of the story. */
  let quiet = false;
  const onLog = (who: string) => (r: LogRecord) => ui.log(`${stamp()}   ${c.dim(`[${who}] ${r.level} ${r.context ? `${r.context}: ` : ''}${String(r.message)}`)}`);
  const onPeerReport = (peer: string) => (r: Report) => {
    if (r.evt === 'work') {
      const w = { peer, n: r.n, at: r.at, ms: r.ms, ok: r.ok, error: r.error } as Work;
      work.push(w);
      sent.set(peer, Math.max(sent.get(peer)!, w.n));
      if (!w.ok && !quiet) ui.log(`${stamp()} ${c.red(`✖ ${peer} request #${w.n} failed after ${w.ms} ms: ${w.error}`)}`);
    } else if (r.evt === 'presence') {
      const e = { ...(r as unknown as PresenceEvent), by: peer };
      seen.push(e);
      if (quiet) return;
      const paint = { joined: c.green, suspect: c.yellow, recovered: c.green, lost: c.red, left: c.blue }[e.type];
      const since = sigtermAt !== undefined && e.at >= sigtermAt ? c.cyan(`SIGTERM +${e.at - sigtermAt} ms`) : '';
      ui.log(`${stamp(e.at)} ${pad(peer, 7)} sees ${paint(pad(`● ${e.type}`, 11))} ${pad(e.peer.id, 9)} ${pad(e.reason ?? '', 24)} ${since}`.trimEnd());
    }
  };
  const rows = (): string[] => {
    const lines = [c.dim(` ${pad('peer', 7)} ${pad('server', 10)} ${padStart('ok', 6)} ${padStart('failed', 6)} ${padStart('max ms', 7)}`)];
    for (const peer of PEERS) {
      const mine = work.filter((w) => w.peer === peer);
      const joined = seen.filter((e) => e.by === peer && e.type === 'joined').at(-1)?.peer.id ?? '–';
      const failed = mine.filter((w) => !w.ok).length;
      lines.push(` ${pad(peer, 7)} ${pad(joined, 10)} ${padStart(String(mine.length - failed), 6)} ${(failed ? c.red : c.green)(padStart(String(failed), 6))} ${padStart(String(Math.max(0, ...mine.map((w) => w.ms))), 7)}`);
    }
    return lines;
  };

  service = await TcpBalancer.start();
  const address = `${service.address.host}:${service.address.port}`;
  ui.log(c.bold(`nest-heartbeat deploy demo: a rolling update of the server under ${PEERS.length} peers' steady requests`));
  ui.log(c.dim(`  the Service on ${address} (round robin over its endpoints); each peer sends a request every ${WORK_EVERY_MS} ms, each takes ${WORK_MS} ms;`));
  ui.log(c.dim(`  waitForReadyMs ${WAIT_FOR_READY_MS}, drainTimeoutMs ${DRAIN_TIMEOUT_MS} (default). Must hold: 0 failed requests; server-1 left, server-2 joined, nothing lost.`));
  ui.live(rows);

  const startServer = async (name: string): Promise<{ app: ChildApp; endpoint: Endpoint }> => {
    const app = new ChildApp(name, join(HERE, 'server-app.ts'), {
      DEMO_NODE_ID: name, DEMO_HOST: '127.0.0.1', DEMO_PORT: '0', DEMO_INTERVAL_MS: String(INTERVAL_MS), DEMO_WORK_MS: String(WORK_MS),
    }, { onLog: onLog(name), keep: (r) => r.evt === 'ready' });
    const ready = await app.waitFor((r) => r.evt === 'ready', 60_000, 'ready line');
    return { app, endpoint: { host: ready.address.address, port: ready.address.port } };
  };
  const one = await startServer('server-1');
  service.add(one.endpoint);
  ui.log(`${stamp()} server-1 listening on port ${one.endpoint.port} (pid ${one.app.pid}): the Service's one endpoint`);

  const peers = PEERS.map((id) => new ChildApp(id, join(HERE, 'peer-app.ts'), {
    DEMO_NODE_ID: id, DEMO_ROLE: 'worker', DEMO_SERVER: address, DEMO_INTERVAL_MS: String(INTERVAL_MS),
    DEMO_WORK_EVERY_MS: String(WORK_EVERY_MS), DEMO_WAIT_FOR_READY_MS: String(WAIT_FOR_READY_MS), DEMO_REPORT_WORK: '1',
  }, { onReport: onPeerReport(id), onLog: onLog(id), keep: (r) => r.evt === 'ready' }));
  const joinedTo = (peer: string, server: string) => seen.some((e) => e.by === peer && e.peer.id === server && e.type === 'joined');
  const until = async (what: string, done: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  };
  if (!(await until('every peer on server-1', () => PEERS.every((p) => joinedTo(p, 'server-1')), 60_000))) throw new Error('the peers did not all join server-1 within 60 s');
  ui.log(`${stamp()} every peer joined server-1 through the Service; steady requests for 2 s`);
  await sleep(2000);
  if (!ui.tty) ui.printTable('before the update');

  // --- the rolling update --------------------------------------------------------------------
  ui.log(`${stamp()} ${c.bold(c.cyan('▶ rolling update: server-2 starts (maxSurge 1, maxUnavailable 0)'))}`);
  const two = await startServer('server-2');
  service.add(two.endpoint);
  ui.log(`${stamp()} server-2 listening on port ${two.endpoint.port} (pid ${two.app.pid}): ready, added to the Service`);
  service.remove(one.endpoint);
  sigtermAt = Date.now();
  one.app.signal('SIGTERM');
  ui.log(`${stamp()} ${c.cyan(`server-1 taken out of the Service, then SIGTERM (pid ${one.app.pid}): it drains, then says goodbye`)}`);
  const exited = await Promise.race([one.app.exited.then(() => true), sleep(DRAIN_TIMEOUT_MS + 10_000).then(() => false)]);
  const exitMs = Date.now() - sigtermAt;
  ui.log(`${stamp()} server-1 ${exited ? `exited ${exitMs} ms after SIGTERM (${one.app.child.exitCode ?? one.app.child.signalCode})` : `still running ${exitMs} ms after SIGTERM`}`);
  await until('every peer left server-1 and joined server-2',
    () => PEERS.every((p) => joinedTo(p, 'server-2') && seen.some((e) => e.by === p && e.peer.id === 'server-1' && (e.type === 'left' || e.type === 'lost'))), 15_000);
  ui.log(`${stamp()} steady requests on server-2 for 2 s`);
  await sleep(2000);
  const endAt = Date.now();
  if (!ui.tty) ui.printTable('after the update');
  ui.stop();

  // --- summary -----------------------------------------------------------------------------------
  const failed = work.filter((w) => !w.ok);
  const answered = new Set(work.map((w) => `${w.peer}#${w.n}`));
  // Requests sent before the last answered one and still unanswered long after: hung.
  const hung = work.length === 0 ? 0 : PEERS.reduce((sum, peer) => {
    const old = work.filter((w) => w.peer === peer && w.at < endAt - HUNG_AFTER_MS);
    const upTo = Math.max(0, ...old.map((w) => w.n));
    let missing = 0;
    for (let n = 1; n <= upTo; n++) if (!answered.has(`${peer}#${n}`)) missing++;
    return sum + missing;
  }, 0);
  const inFlight = work.filter((w) => sigtermAt !== undefined && w.at < sigtermAt && w.at + w.ms > sigtermAt);
  const during = work.filter((w) => w.at >= sigtermAt! && w.at <= sigtermAt! + exitMs);
  const p = (xs: number[], q: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] : 0);
  const out: string[] = ['', c.bold('Summary')];
  let ok = true;
  const row = (what: string, value: string, good: boolean) => {
    ok &&= good;
    out.push(` ${pad(what, 48)} ${pad(value, 30)} ${good ? c.green('OK') : c.red('MISSED')}`);
  };
  row('failed requests (must be 0)', `${failed.length} of ${work.length}`, failed.length === 0);
  row('requests unanswered after 7 s (must be 0)', String(hung), hung === 0);
  for (const peer of PEERS) {
    const mine = seen.filter((e) => e.by === peer && (e.peer.id === 'server-1' || e.peer.id === 'server-2') && e.at >= sigtermAt!);
    const left = mine.find((e) => e.peer.id === 'server-1' && e.type === 'left');
    const joined = mine.find((e) => e.peer.id === 'server-2' && e.type === 'joined');
    const lost = seen.filter((e) => e.by === peer && e.type === 'lost');
    const story = mine.map((e) => `${e.peer.id} ${e.type}${e.reason ? ` (${e.reason})` : ''}`).join(', ') || 'nothing';
    row(`${peer}: server-1 left, server-2 joined, no lost`, story, Boolean(left && joined) && lost.length === 0);
  }
  row(`server-1 exits within drainTimeoutMs + 2 s`, exited ? `${exitMs} ms` : 'did not exit', exited && exitMs <= DRAIN_TIMEOUT_MS + 2000);
  out.push(c.dim(` ${inFlight.length} requests were in flight at SIGTERM (${inFlight.filter((w) => w.ok).length} completed); ${during.length} were sent while server-1 shut down,`),
    c.dim(`   latency then p50 ${p(during.map((w) => w.ms), 0.5)} ms, max ${Math.max(0, ...during.map((w) => w.ms))} ms; the Service sent ${[...service.opened.entries()].map(([e, n]) => `${n} connections to ${e}`).join(', ')}`));
  for (const f of failed.slice(0, 5)) out.push(c.dim(`   failed: ${f.peer} #${f.n} after ${f.ms} ms: ${f.error}`));
  out.push('', ok ? c.green('Rolling update without a failed request or a lost peer. Exit code 0.')
    : c.red('The rolling update failed requests or lost peers. Exit code 1.'));
  process.stdout.write(`${out.join('\n')}\n`);

  quiet = true;
  await Promise.all(peers.map((app) => app.stop()));
  await Promise.all([one.app, two.app].map((app) => app.stop()));
  await service.close();
  process.stdout.write(`${c.dim('Stopped the servers, the peers and the Service.')}\n`);
  return ok ? 0 : 1;
}
