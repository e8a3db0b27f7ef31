/**
 * Cluster presence with a real redis-server and real replica processes (test/fixtures/replica-app.ts),
 * each a HeartbeatServer with `cluster` configured; peers are real heartbeat links from one swarm
 * process (test/fixtures/swarm.ts). Short leases (1000 ms, renew 200 ms) keep the file quick.
 */
import {
  clusterEvents, clusterRig, connectPeers, LEASE_TTL_MS, median, RENEW_INTERVAL_MS, sleep, startReplicas, view, waitCluster,
} from './support/rig.js';

/** Scheduling slack on a shared 2-core machine: the bound is leaseTtlMs + renewIntervalMs, this is on top. */
const SLACK_MS = 400;

const rig = clusterRig('t');
const ns = () => rig.ns();

const peerIds = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);

it('a peer connected to A is seen on B within 100 ms (median), with A as its replica', async () => {
  const [a, b] = await startReplicas(rig.redis.url, ns(), ['A', 'B']);
  const ids = peerIds('p', 8);
  const delays: number[] = [];
  for (const id of ids) {
    const [local] = await connectPeers(rig.swarm, a, [id]);
    const remote = await waitCluster(b, 'joined', id);
    delays.push(remote.t - local.t);
  }
  expect(median(delays)).toBeLessThanOrEqual(100);
  expect(Math.max(...delays)).toBeLessThan(1000);
  const seen = await view(b);
  const p0 = seen.peers.find((p: { id: string }) => p.id === 'p-0');
  expect(p0).toMatchObject({ status: 'alive', metadata: { swarm: 'yes' } });
  expect(p0.replicas).toEqual([expect.objectContaining({ replicaId: a.id, status: 'alive', direction: 'inbound' })]);
  expect(seen.replicas.map((r: { id: string }) => r.id).sort()).toEqual([a.id, b.id].sort());
});

it('SIGKILL of A: B and C, reaping at the same time, each report every peer of A lost (replica-lost) once, within leaseTtlMs + renewIntervalMs', async () => {
  const namespace = ns();
  const [a, b, c] = await startReplicas(rig.redis.url, namespace, ['A', 'B', 'C']);
  const ids = peerIds('k', 5);
  await connectPeers(rig.swarm, a, ids);
  await Promise.all(ids.map((id) => Promise.all([a, b, c].map((r) => waitCluster(r, 'joined', id)))));
  const killedAt = Date.now();
  a.proc.signal('SIGKILL');
  for (const observer of [b, c]) {
    const losses = await Promise.all(ids.map((id) => waitCluster(observer, 'lost', id, killedAt, 5000)));
    for (const loss of losses) {
      expect(loss).toMatchObject({ reason: 'replica-lost', replicaId: a.id, status: 'lost' });
      expect(loss.t - killedAt).toBeLessThanOrEqual(LEASE_TTL_MS + RENEW_INTERVAL_MS + SLACK_MS);
    }
    await observer.proc.waitFor((l) => l.evt === 'replica-lost' && l.id === a.id, 2000, 'replica-lost');
  }
  await sleep(LEASE_TTL_MS);
  for (const observer of [b, c]) {
    for (const id of ids) expect(clusterEvents(observer, 'lost', killedAt, id)).toHaveLength(1);
    expect(observer.proc.select((l) => l.evt === 'replica-lost')).toEqual([expect.objectContaining({ id: a.id, peers: ids.length })]);
  }
  // One reap in Redis, whoever won the race.
  const reaps = rig.redis.cli('XRANGE', `{${namespace}}:events`, '-', '+').split('\n').filter((l) => l === 'reaped');
  expect(reaps).toHaveLength(1);
});

it('SIGSTOP of A past its lease, then SIGCONT: A is fenced and comes back as a new incarnation; B sees one lost and one joined per peer', async () => {
  const [a, b] = await startReplicas(rig.redis.url, ns(), ['A', 'B']);
  const ids = peerIds('s', 4);
  await connectPeers(rig.swarm, a, ids);
  await Promise.all(ids.map((id) => waitCluster(b, 'joined', id)));
  const stoppedAt = Date.now();
  a.proc.signal('SIGSTOP');
  await Promise.all(ids.map((id) => waitCluster(b, 'lost', id, stoppedAt, 5000)));
  a.proc.signal('SIGCONT');
  const back = await Promise.all(ids.map((id) => waitCluster(b, 'joined', id, stoppedAt, 5000))).catch((error: Error) => {
    throw new Error(`${error.message}\nA said:\n${a.proc.stderr.slice(-20).join('\n')}\n${JSON.stringify(a.proc.lines.slice(-10))}`);
  });
  const newId = back[0].replicaId;
  expect(newId).toMatch(/^A\//);
  expect(newId).not.toBe(a.id);
  await sleep(LEASE_TTL_MS * 2);
  for (const id of ids) {
    expect(clusterEvents(b, 'lost', stoppedAt, id)).toEqual([expect.objectContaining({ reason: 'replica-lost', replicaId: a.id })]);
    expect(clusterEvents(b, 'joined', stoppedAt, id)).toEqual([expect.objectContaining({ replicaId: newId })]);
  }
  // A itself saw nothing leave: its peers never went anywhere.
  expect(clusterEvents(a, 'lost', stoppedAt)).toEqual([]);
  expect(a.proc.stderr.join('\n')).toMatch(/re-registered as A\//);
  const seen = await view(b);
  expect(seen.peers.filter((p: { status: string }) => p.status === 'alive').map((p: { id: string }) => p.id).sort()).toEqual(ids);
  expect(seen.replicas.map((r: { id: string }) => r.id).sort()).toEqual([b.id, newId].sort());
});

it('a peer that hops from A to B makes no cluster loss; one that stays gone is lost after the hop grace', async () => {
  const [a, b, c] = await startReplicas(rig.redis.url, ns(), ['A', 'B', 'C']);
  await connectPeers(rig.swarm, a, ['hopper']);
  await Promise.all([a, b, c].map((r) => waitCluster(r, 'joined', 'hopper')));
  const hopAt = Date.now();
  rig.swarm.command({ cmd: 'drop', id: 'hopper' });
  await a.proc.waitFor((l) => l.evt === 'presence' && l.type === 'lost' && l.id === 'hopper', 5000, 'local loss on A');
  await sleep(100); // the peer's reconnect delay
  await connectPeers(rig.swarm, b, ['hopper']);
  await sleep(LEASE_TTL_MS + 500);
  for (const observer of [a, b, c]) {
    const seenThere = { name: observer.name, lost: clusterEvents(observer, 'lost', hopAt, 'hopper'), joined: clusterEvents(observer, 'joined', hopAt, 'hopper') };
    expect({ ...seenThere, history: seenThere.joined.length > 0 ? observer.proc.lines : [] }).toEqual({ name: observer.name, lost: [], joined: [], history: [] });
  }
  const seen = await view(c);
  expect(seen.peers.find((p: { id: string }) => p.id === 'hopper')).toMatchObject({
    status: 'alive', replicas: expect.arrayContaining([expect.objectContaining({ replicaId: b.id, status: 'alive' })]),
  });
  // Now it goes for good: the cluster loses it once the grace (leaseTtlMs) has passed.
  const goneAt = Date.now();
  rig.swarm.command({ cmd: 'drop', id: 'hopper' });
  const lost = await waitCluster(c, 'lost', 'hopper', goneAt, 5000);
  expect(lost.reason).toBe('closed-without-goodbye');
  expect(lost.t - goneAt).toBeGreaterThanOrEqual(LEASE_TTL_MS - 50);
  expect(lost.t - goneAt).toBeLessThanOrEqual(LEASE_TTL_MS + RENEW_INTERVAL_MS + SLACK_MS);
});
