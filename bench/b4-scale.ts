/**
 * B4 at scale — 100,000 cluster peers across 10 replica processes on one Redis.
 *
 *   node --import tsx bench/b4-scale.ts [--quick]      (--quick: 4 replicas × 2,000 peers, short windows)
 *
 * A real redis-server (7.0, no persistence) and 10 replica processes (bench/b4/replica.ts, the
 * real ClusterPresenceService with the default lease: 10000 ms, renewed every 2000 ms), each
 * holding 10,000 simulated local peers (fed through the seam the service reads, as in B4) and
 * merging everyone's: every replica's view holds all 100,000. Measured:
 *   - convergence: time until every view holds every peer;
 *   - Redis: used_memory per peer, and its CPU time (INFO cpu) per second idle and per change under churn;
 *   - replicas: heap per peer of the merged view (heapUsed after a full GC, after minus before the
 *     peers, over the 100,000 peers of the view), CPU per second idle and per change under churn;
 *   - propagation: probe peers join on replica 0; latency until each of the other 9 emits `joined`,
 *     idle and while every replica churns 100 changes a second (1,000 a second in all);
 *   - a replica joining the full cluster: time until its view holds every peer, and how long its
 *     snapshot (one Lua script reading every table) held Redis (SLOWLOG), with the longest PING
 *     round trip another client saw meanwhile;
 *   - reap: a replica holding 10,000 peers is SIGKILLed; time until each other replica has reported
 *     every one of them lost (`replica-lost`), against leaseTtlMs + renewIntervalMs.
 * Everything shares 2 cores here (12 processes): the figures are an upper bound of what each costs.
 */
import { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { RedisServer } from '../test/cluster/support/redis-server.js';
import { commandCalls, info, keyMemory, latency, load, redisCpuSeconds, usedMemory } from './b4/redis-stats.js';
import { BENCH_DIR, hasFlag, isMain, log, machineInfo, sleep, writeResult } from './lib/common.js';
import { Child } from './lib/proc.js';
import { renderResults } from './lib/report.js';
import type { B4ScaleResult } from './lib/results.js';

const QUICK = hasFlag('--quick');
const LEASE_TTL_MS = 10_000;
const RENEW_INTERVAL_MS = 2000;
const REPLICAS = QUICK ? 4 : 10;
const PER_REPLICA = QUICK ? 2000 : 10_000;
const TOTAL = REPLICAS * PER_REPLICA;
const IDLE_WINDOW_MS = QUICK ? 6000 : 20_000;
const CHURN_PER_SECOND = 100;
const CHURN_MS = QUICK ? 5000 : 15_000;
const PROBES = QUICK ? 10 : 50;
const NAMESPACE = 'b4-scale';
const nowMs = () => performance.timeOrigin + performance.now();

function startReplica(redis: RedisServer, nodeId: string): Child {
  return new Child(join(BENCH_DIR, 'b4', 'replica.ts'), [JSON.stringify({
    nodeId, redis: redis.url, namespace: NAMESPACE, leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_INTERVAL_MS,
  })], { label: nodeId, execArgv: ['--expose-gc', '--max-old-space-size=2048'] });
}

/** Bytes Redis received and sent so far (all clients). */
function netBytes(redis: RedisServer): { in: number; out: number } {
  const s = info(redis, 'stats');
  return { in: Number(s.total_net_input_bytes), out: Number(s.total_net_output_bytes) };
}
const perSecond = (a: { in: number; out: number }, b: { in: number; out: number }, ms: number) => ({ in: (b.in - a.in) / (ms / 1000), out: (b.out - a.out) / (ms / 1000) });

const stats = (replicas: Child[]) => Promise.all(replicas.map((r) => r.request({ cmd: 'stats' }, 120_000)));
const heaps = (replicas: Child[]) => Promise.all(replicas.map((r) => r.request({ cmd: 'heap' }, 120_000)));
const cpuMs = async (replicas: Child[]) => (await stats(replicas)).map((s) => s.cpuMs as number);
const spread = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

async function converge(replicas: Child[], expected: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await stats(replicas);
    if (s.every((x) => x.peers >= expected)) return;
    if (Date.now() > deadline) throw new Error(`views did not converge: ${JSON.stringify(s.map((x) => x.peers))}`);
    await sleep(250);
  }
}

/** Probe peers join on replicas[0]; latency until every other replica emits the cluster `joined`. */
async function probe(replicas: Child[], tag: string, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const peerId = `probe-${tag}-${i}`;
    const { t } = await replicas[0].request({ cmd: 'probe', peerId });
    const seen = await Promise.all(replicas.slice(1).map((r) => r.waitFor((m) => m.evt === 'seen' && m.id === peerId, 30_000, `probe ${peerId}`)));
    for (const s of seen) samples.push(s.t - t);
    await sleep(50);
  }
  return samples;
}

/** Pings Redis back to back until stopped; resolves with the longest round trip (ms). */
function longestPing(url: string): { stop: () => Promise<number> } {
  const client = new Redis(url);
  let running = true;
  let longest = 0;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      await client.ping();
      longest = Math.max(longest, performance.now() - t);
      await sleep(2);
    }
  })();
  return { stop: async () => { running = false; await loop; client.disconnect(); return longest; } };
}

/** A replica joins the full cluster: until its view holds all peers; its snapshot's time in Redis (SLOWLOG); the longest PING meanwhile. */
async function measureJoin(redis: RedisServer): Promise<B4ScaleResult['join']> {
  redis.cli('CONFIG', 'SET', 'slowlog-log-slower-than', '1000');
  redis.cli('SLOWLOG', 'RESET');
  const pings = longestPing(redis.url);
  const t0 = Date.now();
  const joiner = startReplica(redis, 'joiner');
  await joiner.ready(120_000);
  const readyMs = Date.now() - t0;
  await converge([joiner], TOTAL);
  const fullViewMs = Date.now() - t0;
  const longestPingMs = await pings.stop();
  // SLOWLOG GET: [id, time, duration µs, [command, args…], …]; the snapshot is the slowest EVALSHA/EVAL.
  const slow = redis.cli('SLOWLOG', 'GET', '128').split('\n');
  let snapshotUs = 0;
  for (let i = 0; i + 3 < slow.length; i++) {
    if (/^(evalsha|eval)$/i.test(slow[i + 3]) && /^\d+$/.test(slow[i + 2])) snapshotUs = Math.max(snapshotUs, Number(slow[i + 2]));
  }
  redis.cli('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
  await joiner.stop();
  return { readyMs, fullViewMs, snapshotMs: snapshotUs / 1000, longestPingMs };
}

export async function runB4Scale(): Promise<B4ScaleResult> {
  const started = Date.now();
  const machine = machineInfo();
  const redis = await RedisServer.start();
  const replicas = Array.from({ length: REPLICAS }, (_, i) => startReplica(redis, `replica-${i}`));
  try {
    await Promise.all(replicas.map((r) => r.ready(60_000)));
    await sleep(1000);
    const memoryBefore = usedMemory(redis);
    const heapBefore = (await heaps(replicas)).map((h) => h.heapUsed as number);

    const t0 = Date.now();
    await Promise.all(replicas.map((r, i) => r.request({ cmd: 'add', prefix: `r${i}`, count: PER_REPLICA }, 300_000)));
    await converge(replicas, TOTAL);
    const convergeMs = Date.now() - t0;
    await sleep(RENEW_INTERVAL_MS);
    const memoryBytes = usedMemory(redis) - memoryBefore;
    const keys = keyMemory(redis, NAMESPACE);
    const heapAfter = (await heaps(replicas)).map((h) => h.heapUsed as number);
    const heapPerPeer = spread(heapAfter.map((h, i) => (h - heapBefore[i]) / TOTAL));
    log(`B4 scale: ${REPLICAS} × ${PER_REPLICA} converged in ${convergeMs} ms; Redis ${(memoryBytes / TOTAL).toFixed(0)} B/peer; replica heap ${heapPerPeer.median.toFixed(0)} B/peer of the view`);
    const join = await measureJoin(redis);
    log(`B4 scale join: ready ${join.readyMs} ms, full view ${join.fullViewMs} ms after start; snapshot held Redis ${join.snapshotMs.toFixed(1)} ms; longest PING ${join.longestPingMs.toFixed(1)} ms`);

    // Idle.
    redis.cli('CONFIG', 'RESETSTAT');
    let cpu0 = redisCpuSeconds(redis);
    let replicaCpu0 = await cpuMs(replicas);
    let net0 = netBytes(redis);
    const idleStart = Date.now();
    await sleep(IDLE_WINDOW_MS);
    const idleWindow = Date.now() - idleStart;
    const idleNet = perSecond(net0, netBytes(redis), idleWindow);
    const idle = load(commandCalls(redis), idleWindow, REPLICAS);
    const idleRedisCpu = (redisCpuSeconds(redis) - cpu0) / (idleWindow / 1000);
    const idleReplicaCpu = spread((await cpuMs(replicas)).map((c, i) => (c - replicaCpu0[i]) / idleWindow));
    log(`B4 scale idle: ${idle.perReplicaClient.toFixed(2)} cmds/s/replica sent, ${idle.totalPerSecond.toFixed(1)} cmds/s in Redis; Redis CPU ${(idleRedisCpu * 100).toFixed(2)} %; replica CPU ${(idleReplicaCpu.median * 100).toFixed(2)} %`);
    const latencyIdle = latency(await probe(replicas, 'idle', PROBES));
    log(`B4 scale idle propagation: p50 ${latencyIdle.p50.toFixed(1)} ms, p99 ${latencyIdle.p99.toFixed(1)} ms (n ${latencyIdle.n})`);

    // Churn: every replica loses or regains 100 peers a second.
    redis.cli('CONFIG', 'RESETSTAT');
    cpu0 = redisCpuSeconds(redis);
    replicaCpu0 = await cpuMs(replicas);
    net0 = netBytes(redis);
    const churnStart = Date.now();
    const churning = Promise.all(replicas.map((r) => r.request({ cmd: 'churn', perSecond: CHURN_PER_SECOND, ms: CHURN_MS }, CHURN_MS + 120_000)));
    const churnSamples = await probe(replicas, 'churn', Math.round(PROBES / 2));
    const churned = await churning;
    const churnWindow = Date.now() - churnStart;
    const churnCalls = commandCalls(redis);
    const churnNet = perSecond(net0, netBytes(redis), churnWindow);
    const churnRedisCpuS = redisCpuSeconds(redis) - cpu0;
    const churnReplicaCpuMs = (await cpuMs(replicas)).map((c, i) => c - replicaCpu0[i]);
    const changes = churned.reduce((a, c) => a + c.changes, 0);
    const churn = { ...load(churnCalls, churnWindow, REPLICAS), changesPerSecond: changes / (churnWindow / 1000) };
    const latencyChurn = latency(churnSamples);
    const churnCost = {
      redisCpuFraction: churnRedisCpuS / (churnWindow / 1000),
      redisCpuUsPerChange: (churnRedisCpuS * 1e6) / changes,
      replicaCpuFraction: spread(churnReplicaCpuMs.map((c) => c / churnWindow)),
      /** CPU of all replicas together per change (each change is read by every replica). */
      replicaCpuUsPerChangeAll: (churnReplicaCpuMs.reduce((a, b) => a + b, 0) * 1000) / changes,
      /** Redis's network traffic (every client; mostly the stream fanned out to every reader) per second, and per change. */
      netBytesPerSecond: churnNet,
      netBytesPerChange: { in: churnNet.in / (changes / (churnWindow / 1000)), out: churnNet.out / (changes / (churnWindow / 1000)) },
    };
    log(`B4 scale churn: ${churn.changesPerSecond.toFixed(0)} changes/s; Redis CPU ${(churnCost.redisCpuFraction * 100).toFixed(1)} % (${churnCost.redisCpuUsPerChange.toFixed(1)} µs/change); `
      + `replicas ${churnCost.replicaCpuUsPerChangeAll.toFixed(0)} µs/change in all; p50 ${latencyChurn.p50.toFixed(1)} p99 ${latencyChurn.p99.toFixed(1)} ms`);
    const memoryAfterChurn = usedMemory(redis) - memoryBefore;
    await sleep(LEASE_TTL_MS + RENEW_INTERVAL_MS); // the churn's losses are confirmed (hop grace) before the reap is counted

    // Reap: SIGKILL the last replica; every other one must report each of its peers lost, once.
    const victim = replicas[REPLICAS - 1];
    const observers = replicas.slice(0, -1);
    const lostBefore = (await stats(observers)).map((s) => s.lost as number);
    const killedAt = nowMs();
    victim.signal('SIGKILL');
    const deadline = Date.now() + LEASE_TTL_MS + RENEW_INTERVAL_MS + 60_000;
    let s = await stats(observers);
    while (s.some((x, i) => x.lost - lostBefore[i] < PER_REPLICA) && Date.now() < deadline) {
      await sleep(100);
      s = await stats(observers);
    }
    await sleep(1000); // a duplicate would show in the count
    s = await stats(observers);
    const reap = {
      peers: PER_REPLICA, observers: observers.length, boundMs: LEASE_TTL_MS + RENEW_INTERVAL_MS,
      events: s.map((x, i) => x.lost - lostBefore[i]),
      firstMs: Math.min(...s.map((x) => x.firstLost - killedAt)), lastMs: Math.max(...s.map((x) => x.lastLost - killedAt)),
    };
    log(`B4 scale reap: ${reap.events.join('/')} losses per observer; first ${reap.firstMs.toFixed(0)} ms, last ${reap.lastMs.toFixed(0)} ms after SIGKILL (bound ${reap.boundMs} ms)`);

    return {
      machine, loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100), durationMs: Date.now() - started,
      config: { replicas: REPLICAS, peersPerReplica: PER_REPLICA, leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_INTERVAL_MS, quick: QUICK, churnPerSecondPerReplica: CHURN_PER_SECOND, probes: PROBES },
      convergeMs, redisMemoryBytes: memoryBytes, redisBytesPerPeer: memoryBytes / TOTAL, keys, redisBytesPerPeerAfterChurn: memoryAfterChurn / TOTAL,
      replicaHeapBytesPerPeer: heapPerPeer, join,
      idle: { ...idle, redisCpuFraction: idleRedisCpu, replicaCpuFraction: idleReplicaCpu, netBytesPerSecond: idleNet }, latencyIdle,
      churn: { ...churn, ...churnCost }, latencyChurn, reap,
    };
  } finally {
    await Promise.all(replicas.map((r) => r.stop().catch(() => undefined)));
    await redis.dispose();
  }
}

if (isMain(import.meta.url)) {
  const result = await runB4Scale();
  writeResult(QUICK ? 'b4-scale-quick' : 'b4-scale', result);
  renderResults();
  process.exit(0);
}
