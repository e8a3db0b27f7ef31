/**
 * No ghosts: no replica or peer stays in any view after its lease is gone — not after the
 * namespace's keys vanish under running replicas (FLUSHALL, DEL, eviction), not when a reader
 * falls behind the capped stream, not after a full outage; and every key expires by itself when
 * no replica is left to renew it. Real redis-server, real replica processes, real peers.
 */
import {
  clusterEvents, clusterRig, connectPeers, LEASE_TTL_MS, RENEW_INTERVAL_MS, sleep, startReplica, startReplicas, view, waitCluster,
  type Replica,
} from './support/rig.js';
import { RedisEndpoint } from './support/redis-endpoint.js';

const SLACK_MS = 600;

const rig = clusterRig('g');

const replicaIds = async (r: Replica): Promise<string[]> => (await view(r)).replicas.map((x: { id: string }) => x.id).sort();
const statusOf = async (r: Replica, id: string): Promise<string | undefined> =>
  (await view(r)).peers.find((p: { id: string }) => p.id === id)?.status;

it('FLUSHALL under running replicas: both come back as new incarnations, the old ones leave every view, and a peer that then dies is lost', async () => {
  const namespace = rig.ns();
  const [a, b] = await startReplicas(rig.redis.url, namespace, ['A', 'B']);
  await connectPeers(rig.swarm, a, ['p-0', 'p-1']);
  await connectPeers(rig.swarm, b, ['q-0']);
  await Promise.all([waitCluster(b, 'joined', 'p-1'), waitCluster(a, 'joined', 'q-0')]);
  const flushedAt = Date.now();
  rig.redis.cli('FLUSHALL');
  await sleep(LEASE_TTL_MS + RENEW_INTERVAL_MS + SLACK_MS);
  const leases = rig.redis.cli('ZRANGE', `{${namespace}}:leases`, '0', '-1').split('\n').filter((m) => m.includes('/')).sort();
  expect(leases).toHaveLength(2);
  expect(leases).not.toContain(a.id);
  expect(leases).not.toContain(b.id);
  for (const r of [a, b]) {
    expect(await replicaIds(r)).toEqual(leases);
    expect(clusterEvents(r, 'lost', flushedAt)).toEqual([]); // nothing invented
  }
  const p0 = (await view(b)).peers.find((p: { id: string }) => p.id === 'p-0');
  expect(p0.replicas.map((x: { replicaId: string }) => x.replicaId)).toEqual([leases.find((l) => l.startsWith('A/'))]);
  // The ghost: p-0 dies; the old incarnation of A must not keep it alive anywhere.
  const droppedAt = Date.now();
  rig.swarm.command({ cmd: 'drop', id: 'p-0' });
  const lost = await waitCluster(b, 'lost', 'p-0', droppedAt, LEASE_TTL_MS + RENEW_INTERVAL_MS + 3000);
  expect(lost.reason).toBe('closed-without-goodbye');
  expect(await statusOf(b, 'p-0')).toBe('lost');
});

it('a reader stalled past the stream cap notices the gap while connected and resynchronises: the change it missed is not lost', async () => {
  const namespace = rig.ns();
  const tag = `{${namespace}}`;
  // A longer lease, so B stays a member while its process is stopped (well under a second).
  const cluster = { leaseTtlMs: 2500, renewIntervalMs: 500 };
  const [a, b] = await startReplicas(rig.redis.url, namespace, ['A', 'B'], { cluster });
  await connectPeers(rig.swarm, a, ['keep', 'gone']);
  await Promise.all(['keep', 'gone'].map((id) => waitCluster(b, 'joined', id)));
  b.proc.signal('SIGSTOP');
  await sleep(100);
  // Another writer in the namespace fills the stream: B's blocked read returns with its first entry
  // (into a socket B does not read now), then A's change, then more than the cap: A's entry is trimmed.
  const fill = (n: number) => rig.redis.cli('EVAL', `for i = 1, ${n} do
    local n = redis.call('INCR', KEYS[2])
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', 1000, '*', 'k', 'sync', 'r', 'other/1', 'n', n) end`, '2', `${tag}:events`, `${tag}:seq`);
  fill(1);
  const byeAt = Date.now();
  rig.swarm.command({ cmd: 'bye', id: 'gone' });
  await a.proc.waitFor((l) => l.evt === 'presence' && l.type === 'left' && l.id === 'gone', 5000, 'local goodbye on A');
  await sleep(200); // published
  fill(1500);
  expect(Number(rig.redis.cli('XLEN', `${tag}:events`))).toBeLessThan(1500);
  b.proc.signal('SIGCONT');
  const departed = await b.proc.waitFor((l) => l.evt === 'cluster' && (l.type === 'left' || l.type === 'lost') && l.id === 'gone' && l.t > byeAt,
    cluster.leaseTtlMs + 3000, 'the departure of gone');
  expect(departed.type).toMatch(/left|lost/);
  expect(b.proc.stderr.join('\n')).toMatch(/resynchronised/);
  expect(await statusOf(b, 'keep')).toBe('alive');
  expect(clusterEvents(b, 'lost', byeAt, 'keep')).toEqual([]);
});

it('after a full outage the first replica back reports no peer of a dead replica as joined', async () => {
  const namespace = rig.ns();
  // B boots beside A, behind an address that stays shut until the outage has run its course.
  const shut = await RedisEndpoint.start();
  try {
    const [a, b] = await Promise.all([startReplica(rig.redis.url, namespace, 'A'), startReplica(shut.url, namespace, 'B', { connected: false })]);
    await connectPeers(rig.swarm, a, ['dead-peer']);
    await sleep(2 * RENEW_INTERVAL_MS);
    a.proc.signal('SIGKILL');
    rig.swarm.command({ cmd: 'drop', id: 'dead-peer' });
    await a.proc.exited;
    await sleep(LEASE_TTL_MS + RENEW_INTERVAL_MS); // everyone is dead: A's lease has run out, its keys are still there
    expect(rig.redis.cli('ZRANGE', `{${namespace}}:leases`, '0', '-1')).toContain(a.id);
    shut.switchTo(rig.redis.port);
    await b.proc.waitFor((l) => l.evt === 'status' && l.status === 'connected', 5000, 'connected');
    expect((await view(b)).peers).toEqual([]);
    await sleep(2 * RENEW_INTERVAL_MS);
    expect(b.proc.select((l) => l.evt === 'cluster' && l.id === 'dead-peer')).toEqual([]);
    expect(await replicaIds(b)).toEqual([b.id]);
    expect(rig.redis.cli('ZRANGE', `{${namespace}}:leases`, '0', '-1')).not.toContain(a.id); // reaped
  } finally {
    await shut.close();
  }
});

it('every key of a namespace expires by itself when its last replica dies', async () => {
  const namespace = rig.ns();
  const a = await startReplica(rig.redis.url, namespace, 'A');
  await connectPeers(rig.swarm, a, ['k-0']);
  await sleep(2 * RENEW_INTERVAL_MS);
  const keys = () => rig.redis.cli('KEYS', `{${namespace}}:*`).split('\n').filter(Boolean).sort();
  expect(keys().length).toBeGreaterThanOrEqual(4);
  for (const key of keys()) expect(Number(rig.redis.cli('PTTL', key))).toBeGreaterThan(0);
  a.proc.signal('SIGKILL');
  await a.proc.exited;
  const deadline = Date.now() + 3 * LEASE_TTL_MS + 3000;
  while (keys().length > 0 && Date.now() < deadline) await sleep(200);
  expect(keys()).toEqual([]);
});
