/**
 * B4 — cluster presence on Redis: propagation latency, Redis load and memory, reap time.
 *
 *   node --import tsx bench/b4-cluster.ts [--quick]
 *
 * A real redis-server (7.0, no persistence) on a free port, and 3 replica processes
 * (bench/b4/replica.ts) running the real ClusterPresenceService with the default lease settings
 * (leaseTtlMs 10000, renewIntervalMs 2000). Peers are simulated: each replica's local table is fed
 * directly through the seam ClusterPresenceService reads (events$ + peers()), because 30,000 real
 * links would measure the link layer (B2), not the cluster layer. Per size (1,000 and 10,000 peers
 * per replica):
 *   - convergence: time until every replica's merged view holds all 3 × N peers;
 *   - memory: Redis used_memory after the tables are in, minus before, per peer;
 *   - idle load: INFO commandstats over a quiet window (after CONFIG RESETSTAT), per replica per second;
 *   - propagation: a probe peer joins on replica 0; latency until replicas 1 and 2 emit `joined`
 *     (epoch ms from performance.timeOrigin + now, same machine), idle and under churn;
 *   - churn: every replica loses or regains 100 peers a second; load, latency and memory meanwhile.
 * Reap: a replica holding 5,000 peers is SIGKILLed; time until another replica has reported all of
 * them lost (`replica-lost`), against the bound leaseTtlMs + renewIntervalMs.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { RedisServer } from '../test/cluster/support/redis-server.js';
import { commandCalls, keyMemory, latency, load as loadOf, usedMemory } from './b4/redis-stats.js';
import { BENCH_DIR, hasFlag, isMain, log, machineInfo, sleep, writeResult } from './lib/common.js';
import { Child } from './lib/proc.js';
import { renderResults } from './lib/report.js';
import type { B4Result, B4SizeRow } from './lib/results.js';

const QUICK = hasFlag('--quick');
const LEASE_TTL_MS = 10_000;
const RENEW_INTERVAL_MS = 2000;
const REPLICAS = 3;
const SIZES = QUICK ? [1000] : [1000, 10_000];
const IDLE_WINDOW_MS = QUICK ? 6000 : 12_000;
const CHURN_PER_SECOND = 100;
const CHURN_MS = QUICK ? 5000 : 10_000;
const PROBES = QUICK ? 40 : 100;
const REAP_PEERS = 5000;
const nowMs = () => performance.timeOrigin + performance.now();
const load = (calls: Record<string, number>, windowMs: number) => loadOf(calls, windowMs, REPLICAS);

function startReplica(redis: RedisServer, namespace: string, nodeId: string): Child {
  return new Child(join(BENCH_DIR, 'b4', 'replica.ts'), [JSON.stringify({
    nodeId, redis: redis.url, namespace, leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_INTERVAL_MS,
  })], { label: nodeId });
}

async function converge(replicas: Child[], expected: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await Promise.all(replicas.map((r) => r.request({ cmd: 'stats' })));
    if (stats.every((s) => s.peers >= expected)) return;
    if (Date.now() > deadline) throw new Error(`views did not converge: ${JSON.stringify(stats)}`);
    await sleep(100);
  }
}

async function probeLatencies(replicas: Child[], tag: string, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const peerId = `probe-${tag}-${i}`;
    const { t } = await replicas[0].request({ cmd: 'probe', peerId });
    for (const r of replicas.slice(1)) {
      const seen = await r.waitFor((m) => m.evt === 'seen' && m.id === peerId, 10_000, `probe ${peerId}`);
      samples.push(seen.t - t);
    }
    await sleep(20);
  }
  return samples;
}

async function measureSize(redis: RedisServer, n: number): Promise<B4SizeRow> {
  redis.cli('FLUSHALL');
  await sleep(200);
  const namespace = `b4-${n}`;
  const replicas = Array.from({ length: REPLICAS }, (_, i) => startReplica(redis, namespace, `replica-${i}`));
  await Promise.all(replicas.map((r) => r.ready()));
  await sleep(500);
  // Baseline with the replicas connected: their connection buffers are a fixed cost, not a per-peer one.
  const before = usedMemory(redis);
  const t0 = Date.now();
  await Promise.all(replicas.map((r, i) => r.request({ cmd: 'add', prefix: `r${i}`, count: n }, 120_000)));
  await converge(replicas, REPLICAS * n);
  const convergeMs = Date.now() - t0;
  await sleep(RENEW_INTERVAL_MS);
  const memoryBytes = usedMemory(redis) - before;
  const keys = keyMemory(redis, namespace);
  log(`B4 ${n}/replica: converged in ${convergeMs} ms, ${memoryBytes} B (${(memoryBytes / (REPLICAS * n)).toFixed(0)} B/peer)`);

  redis.cli('CONFIG', 'RESETSTAT');
  const idleStart = Date.now();
  await sleep(IDLE_WINDOW_MS);
  const idle = load(commandCalls(redis), Date.now() - idleStart);
  log(`B4 ${n}/replica idle: ${idle.perReplicaClient.toFixed(2)} client cmds/s/replica, ${idle.perReplicaTotal.toFixed(2)} incl. script internals`, idle.byCommand);

  const latencyIdle = latency(await probeLatencies(replicas, `idle-${n}`, PROBES));
  log(`B4 ${n}/replica idle propagation: p50 ${latencyIdle.p50.toFixed(1)} ms, p99 ${latencyIdle.p99.toFixed(1)} ms`);

  redis.cli('CONFIG', 'RESETSTAT');
  const churnStart = Date.now();
  const churning = Promise.all(replicas.map((r) => r.request({ cmd: 'churn', perSecond: CHURN_PER_SECOND, ms: CHURN_MS }, CHURN_MS + 60_000)));
  const latencyChurnSamples = await probeLatencies(replicas, `churn-${n}`, Math.round(PROBES / 2));
  const churned = await churning;
  const churnWindow = Date.now() - churnStart;
  const churnLoad = load(commandCalls(redis), churnWindow);
  const changes = churned.reduce((a, c) => a + c.changes, 0);
  const latencyChurn = latency(latencyChurnSamples);
  await sleep(500);
  const afterChurn = usedMemory(redis) - before;
  log(`B4 ${n}/replica churn: ${(changes / (churnWindow / 1000)).toFixed(0)} changes/s, ${churnLoad.clientPerSecond.toFixed(1)} client cmds/s, p50 ${latencyChurn.p50.toFixed(1)} p99 ${latencyChurn.p99.toFixed(1)} ms, ${(afterChurn / (REPLICAS * n)).toFixed(0)} B/peer`);

  await Promise.all(replicas.map((r) => r.stop()));
  return {
    peersPerReplica: n, convergeMs, memoryBytes, bytesPerPeer: memoryBytes / (REPLICAS * n), keys, idle, latencyIdle,
    churn: { ...churnLoad, changesPerSecond: changes / (churnWindow / 1000) }, latencyChurn,
    bytesPerPeerAfterChurn: afterChurn / (REPLICAS * n),
  };
}

async function measureReap(redis: RedisServer): Promise<B4Result['reap']> {
  redis.cli('FLUSHALL');
  const [victim, observer] = [startReplica(redis, 'b4-reap', 'victim'), startReplica(redis, 'b4-reap', 'observer')];
  await Promise.all([victim.ready(), observer.ready()]);
  await victim.request({ cmd: 'add', prefix: 'v', count: REAP_PEERS }, 120_000);
  await converge([observer], REAP_PEERS);
  await sleep(RENEW_INTERVAL_MS);
  const killedAt = nowMs();
  victim.signal('SIGKILL');
  const deadline = Date.now() + LEASE_TTL_MS + RENEW_INTERVAL_MS + 30_000;
  let stats = await observer.request({ cmd: 'stats' });
  while (stats.lost < REAP_PEERS && Date.now() < deadline) {
    await sleep(50);
    stats = await observer.request({ cmd: 'stats' });
  }
  await sleep(1000); // any duplicate would show in the count
  stats = await observer.request({ cmd: 'stats' });
  const final = { n: stats.lost, first: stats.firstLost, last: stats.lastLost };
  await observer.stop();
  const reap = { peers: REAP_PEERS, boundMs: LEASE_TTL_MS + RENEW_INTERVAL_MS, firstMs: final.first - killedAt, lastMs: final.last - killedAt, events: final.n };
  log(`B4 reap: ${reap.events} losses, first ${reap.firstMs.toFixed(0)} ms, last ${reap.lastMs.toFixed(0)} ms after SIGKILL (bound ${reap.boundMs} ms)`);
  return reap;
}

export async function runB4(): Promise<B4Result> {
  const started = Date.now();
  const machine = machineInfo();
  const redis = await RedisServer.start();
  try {
    const sizes: B4SizeRow[] = [];
    for (const n of SIZES) sizes.push(await measureSize(redis, n));
    const reap = await measureReap(redis);
    return {
      machine, durationMs: Date.now() - started,
      config: { replicas: REPLICAS, leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_INTERVAL_MS, quick: QUICK, churnPerSecond: CHURN_PER_SECOND, probes: PROBES },
      sizes, reap, targets: { p50Ms: 20, p99Ms: 100, idleOpsPerReplica: 2, bytesPerPeer: 300 },
    };
  } finally {
    await redis.stop();
  }
}

if (isMain(import.meta.url)) {
  const result = await runB4();
  writeResult('b4', result);
  renderResults();
  process.exit(0);
}
