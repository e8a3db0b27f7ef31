/**
 * Cluster presence when Redis itself fails: paused (SIGSTOP), killed and restarted empty, or
 * holding data we did not write. Real redis-server, real replica processes (see cluster-replicas.spec.ts).
 */
import {
  clusterEvents, clusterRig, connectPeers, LEASE_TTL_MS, RENEW_INTERVAL_MS, sleep, startReplicas, view, waitCluster, type Replica,
} from './support/rig.js';

const rig = clusterRig('r');
const ns = () => rig.ns();

const statuses = (r: Replica, since: number) => r.proc.select((l) => l.evt === 'status' && l.t >= since).map((l) => l.status);

async function aliveIds(r: Replica): Promise<string[]> {
  const v = await view(r);
  return v.peers.filter((p: { status: string }) => p.status === 'alive').map((p: { id: string }) => p.id).sort();
}

it('Redis paused for 2 × leaseTtlMs, then resumed: no cluster loss anywhere, degraded then connected', async () => {
  const [a, b] = await startReplicas(rig.redis.url, ns(), ['A', 'B']);
  await connectPeers(rig.swarm, a, ['x-0', 'x-1']);
  await connectPeers(rig.swarm, b, ['y-0', 'y-1']);
  await Promise.all([waitCluster(b, 'joined', 'x-1'), waitCluster(a, 'joined', 'y-1')]);
  const stoppedAt = Date.now();
  rig.redis.signal('SIGSTOP');
  await sleep(2 * LEASE_TTL_MS);
  // Local presence goes on while the cluster view is frozen.
  await connectPeers(rig.swarm, a, ['x-2']);
  rig.redis.signal('SIGCONT');
  for (const r of [a, b]) {
    await r.proc.waitFor((l) => l.evt === 'status' && l.status === 'connected' && l.t > stoppedAt, 5000, 'connected again');
    expect(statuses(r, stoppedAt)).toEqual(['degraded', 'connected']);
  }
  await waitCluster(b, 'joined', 'x-2', stoppedAt, 3000); // buffered while Redis was away, published when back
  await sleep(LEASE_TTL_MS + 2 * RENEW_INTERVAL_MS);
  for (const r of [a, b]) {
    expect(clusterEvents(r, 'lost', stoppedAt)).toEqual([]);
    expect(clusterEvents(r, 'left', stoppedAt)).toEqual([]);
    expect(r.proc.select((l) => l.evt === 'replica-lost')).toEqual([]);
    expect(await aliveIds(r)).toEqual(['x-0', 'x-1', 'x-2', 'y-0', 'y-1']);
  }
});

it('Redis killed and restarted empty: every replica re-registers and the view is whole again, with no loss', async () => {
  const namespace = ns();
  const [a, b] = await startReplicas(rig.redis.url, namespace, ['A', 'B']);
  await connectPeers(rig.swarm, a, ['x-0', 'x-1']);
  await connectPeers(rig.swarm, b, ['y-0']);
  await Promise.all([waitCluster(b, 'joined', 'x-1'), waitCluster(a, 'joined', 'y-0')]);
  const killedAt = Date.now();
  await rig.redis.stop();
  await sleep(500);
  await rig.redis.start();
  for (const r of [a, b]) {
    await r.proc.waitFor((l) => l.evt === 'status' && l.status === 'connected' && l.t > killedAt, 5000, 'connected again');
  }
  // Both came back as new incarnations with their whole tables.
  const deadline = Date.now() + 5000;
  let leases: string[] = [];
  while (Date.now() < deadline) {
    leases = rig.redis.cli('ZRANGE', `{${namespace}}:leases`, '0', '-1').split('\n').filter((m) => m.includes('/'));
    if (leases.length === 2) break;
    await sleep(100);
  }
  expect(leases).toHaveLength(2);
  expect(leases).not.toContain(a.id);
  expect(leases).not.toContain(b.id);
  expect(rig.redis.cli('HLEN', `{${namespace}}:peers:${leases.find((l) => l.startsWith('A/'))}`)).toBe('2');
  await sleep(LEASE_TTL_MS + 3 * RENEW_INTERVAL_MS); // past the probation of the old incarnations
  for (const r of [a, b]) {
    expect(await aliveIds(r)).toEqual(['x-0', 'x-1', 'y-0']);
    expect(clusterEvents(r, 'lost', killedAt)).toEqual([]);
    expect((await view(r)).replicas.map((x: { id: string }) => x.id).sort()).toEqual([...leases].sort());
  }
});

it('bad data in the namespace (foreign keys, a malformed stream entry, a bad peer entry) is logged and skipped', async () => {
  const namespace = ns();
  const tag = `{${namespace}}`;
  rig.redis.cli('SET', `${tag}:peers:ghost/1`, 'not a hash');
  rig.redis.cli('ZADD', `${tag}:leases`, '99999999999999', 'ghost/1');
  rig.redis.cli('HSET', `${tag}:replicas`, 'ghost/1', '{oops');
  rig.redis.cli('SET', `${tag}:something-else`, 'x');
  const [a, b] = await startReplicas(rig.redis.url, namespace, ['A', 'B']);
  rig.redis.cli('XADD', `${tag}:events`, '*', 'k', 'peers', 'r', 'ghost/2', 'v', '[["p",{"s":"?"}]]');
  rig.redis.cli('XADD', `${tag}:events`, '*', 'garbage', 'yes');
  rig.redis.cli('XADD', `${tag}:events`, '*', 'k', 'peers', 'r', 'ghost/4', 'v', '[["fake",{"s":"a","d":"i","a":"x","t":1}]]');
  rig.redis.cli('XADD', `${tag}:events`, '*', 'k', 'peers', 'r', 'ghost/3', 'v', 'not json');
  rig.redis.cli('HSET', `${tag}:peers:${a.id}`, 'junk', '[1,2');
  await connectPeers(rig.swarm, a, ['ok-0']);
  await waitCluster(b, 'joined', 'ok-0');
  const [c] = await startReplicas(rig.redis.url, namespace, ['C']); // its snapshot reads the junk field
  await waitCluster(c, 'joined', 'ok-0');
  for (const r of [a, b, c]) expect(r.proc.alive).toBe(true);
  expect(c.proc.stderr.join('\n')).toMatch(/Skipped bad data in Redis .*peers:A\/.* junk.*: bad peer entry/);
  const log = b.proc.stderr.join('\n');
  expect(log).toMatch(/Skipped bad data in Redis .*events.*: bad peer entry/);
  expect(log).toMatch(/Skipped bad data in Redis .*events.*: no replica id/);
  expect(log).toMatch(/Skipped bad data in Redis .*events.*: payload is not JSON/);
  expect(log).toMatch(/Skipped bad data in Redis .*events.*: changes from unregistered replica ghost\/4/);
  expect(log).toMatch(/Skipped bad data in Redis .*ghost\/1.*: (no replica record|not a hash)/);
  expect(await aliveIds(b)).toEqual(['ok-0']);
});
