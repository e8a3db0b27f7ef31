/**
 * The cluster presence demo: `npm start -- --cluster`.
 *
 * Starts a redis-server of its own, two replicas of a service (cluster-replica.ts: a
 * HeartbeatServer with `cluster` configured) and four peers (peer-app.ts), two on each replica.
 * Each replica sees all four peers through Redis. Then replica A is killed (SIGKILL): replica B
 * reports A's peers `lost` with reason `replica-lost` within leaseTtlMs + renewIntervalMs, once
 * each, and keeps its own. Exit code 0 when that holds.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClusterPeerInfo, ClusterPresenceEvent, ReplicaInfo } from '../src/index.js';
import { RedisServer } from '../test/cluster/support/redis-server.js';
import { ChildApp, killAllChildren, type LogRecord, type Report } from './support/child-app.js';
import { Dashboard, pad } from './support/dashboard.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const LEASE_TTL_MS = 4000;
const RENEW_INTERVAL_MS = 1000;
const BOUND_MS = LEASE_TTL_MS + RENEW_INTERVAL_MS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Table { at: number; status: string; peers: ClusterPeerInfo[]; replicas: ReplicaInfo[] }

const INSTALL = `redis-server is not installed; the cluster demo runs a Redis of its own.
Install it, then run \`npm start -- --cluster\` again:
  Debian/Ubuntu:  sudo apt-get install redis-server
  Fedora/RHEL:    sudo dnf install redis
  macOS:          brew install redis`;

export async function runClusterDemo(): Promise<number> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    process.stderr.write(`${INSTALL}\n`);
    return 1;
  }
  const ui = new Dashboard();
  const { c } = ui;
  const t0 = Date.now();
  const stamp = (at = Date.now()) => c.dim(`+${((at - t0) / 1000).toFixed(1).padStart(5)}s`);
  let redis: RedisServer | undefined;
  const cleanup = () => {
    killAllChildren();
    redis?.child?.kill('SIGKILL');
    ui.restoreTerminal();
  };
  process.on('exit', cleanup);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      ui.stop();
      process.stdout.write(`\n${signal}: stopping every process and Redis\n`);
      cleanup();
      process.exit(code);
    });
  }

  redis = await RedisServer.start();
  ui.log(c.bold('nest-heartbeat cluster demo: Redis, two replicas of a service, four peers; one process each'));
  ui.log(c.dim(`  redis-server on 127.0.0.1:${redis.port}; leaseTtlMs ${LEASE_TTL_MS}, renewIntervalMs ${RENEW_INTERVAL_MS}: a dead replica's peers are lost within ${BOUND_MS} ms`));

  let table: Table = { at: Date.now(), status: 'degraded', peers: [], replicas: [] };
  const events: Array<ClusterPresenceEvent & { evt: string }> = [];
  let killedAt: number | undefined;
  const onLog = (who: string) => (r: LogRecord) => ui.log(`${stamp()}   ${c.dim(`[${who}] ${r.level} ${r.context ? `${r.context}: ` : ''}${String(r.message)}`)}`);
  const onB = (r: Report) => {
    if (r.evt === 'table') table = r as unknown as Table;
    else if (r.evt === 'cluster') {
      const e = r as unknown as ClusterPresenceEvent & { evt: string };
      events.push(e);
      const paint = { joined: c.green, lost: c.red, left: c.blue }[e.type];
      const since = killedAt !== undefined ? c.cyan(`kill +${e.at - killedAt} ms`) : '';
      ui.log(`${stamp(e.at)} ${paint(pad(`● ${e.type}`, 9))} ${pad(e.peer.id, 8)} ${pad(`${e.reason ?? ''}`, 14)} ${c.dim(`via ${e.replicaId ?? ''}`)} ${since}`.trimEnd());
    } else if (r.evt === 'replica-lost') {
      ui.log(`${stamp(r.at)} ${c.red(`✖ @OnReplicaLost ${r.replica.id}`)} ${c.dim(`(held ${r.peerIds.length} peers)`)}${killedAt ? ` ${c.cyan(`kill +${r.at - killedAt} ms`)}` : ''}`);
    }
  };
  const rows = (): string[] => {
    const mark = { alive: c.green, suspect: c.yellow, lost: c.red, left: c.blue } as Record<string, (s: string) => string>;
    const lines = [c.dim(`replica B's cluster view (${table.status}; replicas: ${table.replicas.map((r) => r.id + (r.self ? ' (self)' : '')).join(', ') || '–'})`),
      c.dim(` ${pad('peer', 8)} ${pad('status', 8)} held by`)];
    for (const p of [...table.peers].sort((x, y) => x.id.localeCompare(y.id))) {
      lines.push(` ${pad(p.id, 8)} ${(mark[p.status] ?? ((s: string) => s))(pad(p.status, 8))} ${p.replicas.map((r) => `${r.replicaId} (${r.status})`).join(', ')}`);
    }
    return lines;
  };
  ui.live(rows);

  const replica = (name: string, onReport?: (r: Report) => void) => new ChildApp(name, join(HERE, 'cluster-replica.ts'), {
    DEMO_NODE_ID: name, DEMO_REDIS: redis!.url, DEMO_LEASE_TTL_MS: String(LEASE_TTL_MS), DEMO_RENEW_INTERVAL_MS: String(RENEW_INTERVAL_MS),
  }, { onReport, onLog: onLog(name), keep: (r) => r.evt !== 'table' });
  const a = replica('replica-a');
  const b = replica('replica-b', onB);
  const [readyA, readyB] = await Promise.all([a, b].map((r) => r.waitFor((x) => x.evt === 'ready', 60_000, 'ready line')));
  ui.log(`${stamp()} replica-a ${readyA.replicaId} on port ${readyA.address.port}, replica-b ${readyB.replicaId} on port ${readyB.address.port}`);

  const peers = ['peer-1', 'peer-2', 'peer-3', 'peer-4'].map((id, k) => new ChildApp(id, join(HERE, 'peer-app.ts'), {
    DEMO_NODE_ID: id, DEMO_ROLE: 'worker', DEMO_INTERVAL_MS: '500',
    DEMO_SERVER: `127.0.0.1:${(k < 2 ? readyA : readyB).address.port}`,
  }));
  ui.log(`${stamp()} peer-1, peer-2 connect to replica-a; peer-3, peer-4 to replica-b`);
  const joinDeadline = Date.now() + 60_000;
  while (table.peers.filter((p) => p.status === 'alive').length < 4) {
    if (Date.now() > joinDeadline) throw new Error('the four peers did not all appear in replica-b\'s view within 60 s');
    await sleep(100);
  }
  await sleep(1500);
  if (!ui.tty) ui.printTable('every peer, seen from replica-b');

  ui.log(`${stamp()} ${c.bold(c.cyan(`▶ SIGKILL replica-a (pid ${a.pid}): its lease stops being renewed`))}`);
  killedAt = Date.now();
  a.signal('SIGKILL');
  const lostOf = (id: string) => events.filter((e) => e.type === 'lost' && e.peer.id === id && e.at >= killedAt!);
  const deadline = Date.now() + BOUND_MS + 10_000;
  while ((lostOf('peer-1').length === 0 || lostOf('peer-2').length === 0) && Date.now() < deadline) await sleep(50);
  await sleep(2 * RENEW_INTERVAL_MS); // time for a duplicate to show, if there were one
  if (!ui.tty) ui.printTable('after replica-a was killed');
  ui.stop();

  const out = ['', c.bold(`Summary (leaseTtlMs ${LEASE_TTL_MS} + renewIntervalMs ${RENEW_INTERVAL_MS} = bound ${BOUND_MS} ms from the kill)`)];
  let ok = true;
  for (const id of ['peer-1', 'peer-2']) {
    const lost = lostOf(id);
    const good = lost.length === 1 && lost[0].reason === 'replica-lost' && lost[0].at - killedAt <= BOUND_MS;
    ok &&= good;
    out.push(` ${pad(id, 8)} ${pad(lost.length ? `lost (${lost[0].reason}) ×${lost.length}` : 'not reported lost', 28)} ${pad(lost.length ? `${lost[0].at - killedAt} ms` : '–', 9)} ${good ? c.green('OK') : c.red('MISSED')}`);
  }
  for (const id of ['peer-3', 'peer-4']) {
    const wrong = events.filter((e) => e.peer.id === id && e.type !== 'joined');
    ok &&= wrong.length === 0;
    out.push(` ${pad(id, 8)} ${pad(wrong.length ? wrong.map((e) => e.type).join(', ') : 'still alive on replica-b', 28)} ${pad('', 9)} ${wrong.length ? c.red('UNEXPECTED') : c.green('OK')}`);
  }
  out.push('', ok ? c.green('replica-a\'s peers were reported lost by replica-b, once each, within the bound. Exit code 0.')
    : c.red('The bound or the exactly-once rule was missed. Exit code 1.'));
  process.stdout.write(`${out.join('\n')}\n`);

  await Promise.all([...peers, b].map((p) => p.stop()));
  await redis.stop();
  process.stdout.write(`${c.dim('Stopped the replica, the peers and Redis.')}\n`);
  return ok ? 0 : 1;
}
