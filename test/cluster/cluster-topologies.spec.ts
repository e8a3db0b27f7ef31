/**
 * Cluster presence on the Redis deployments production runs: Redis Cluster (three masters,
 * three replicas; `cluster.redis` an ioredis Cluster) with the namespace's master killed, and
 * Sentinel (a master, a replica, three sentinels) with a managed failover, and a coordinated
 * `FAILOVER` behind one endpoint (as managed Redis services do it), after which connections left
 * on the demoted primary get READONLY. No failover here is longer than the lease, so no replica
 * may report any peer lost, and changes flow again afterwards.
 * Real redis-server processes started here, real replica processes, real peers.
 */
import { killAll, type LineProcess } from './support/line-process.js';
import { RedisEndpoint } from './support/redis-endpoint.js';
import { RedisServer } from './support/redis-server.js';
import { RedisClusterSet, SentinelSet } from './support/redis-topologies.js';
import { clusterEvents, connectPeers, sleep, startReplicas, startSwarm, view, waitCluster, type Replica } from './support/rig.js';

/** Longer than either failover here (2-3 s), so neither may cost a lease. */
const cluster = { leaseTtlMs: 4000, renewIntervalMs: 400 };
const SLACK_MS = 800;

let swarm: LineProcess;
beforeEach(async () => {
  swarm = startSwarm();
  await swarm.waitFor((l) => l.evt === 'ready');
});
afterEach(() => killAll());

async function aliveIds(r: Replica): Promise<string[]> {
  return (await view(r)).peers.filter((p: { status: string }) => p.status === 'alive').map((p: { id: string }) => p.id).sort();
}

/** Peers on both replicas, seen by both; then `failover`; then no loss, both connected, and a new peer still propagates. */
async function survivesFailover(a: Replica, b: Replica, failover: () => Promise<void>): Promise<void> {
  await connectPeers(swarm, a, ['a-0', 'a-1']);
  await connectPeers(swarm, b, ['b-0', 'b-1']);
  await Promise.all([waitCluster(b, 'joined', 'a-1'), waitCluster(a, 'joined', 'b-1')]);
  const startedAt = Date.now();
  await failover();
  for (const r of [a, b]) {
    // Each comes through connected (some notice nothing, some are degraded for a moment).
    await r.proc.waitFor((l) => l.evt === 'status' && l.t >= startedAt && l.status === 'connected', 20_000, 'connected after the failover')
      .catch(async (error) => {
        if ((await statusNow(r)) !== 'connected') throw error;
      });
  }
  await connectPeers(swarm, a, ['a-2']);
  await waitCluster(b, 'joined', 'a-2', startedAt, 10_000);
  // A lease lost in the failover would be reaped within leaseTtlMs + renewIntervalMs of its start.
  await sleep(startedAt + cluster.leaseTtlMs + cluster.renewIntervalMs + SLACK_MS - Date.now());
  for (const r of [a, b]) {
    expect(clusterEvents(r, 'lost', startedAt)).toEqual([]);
    expect(r.proc.select((l) => l.evt === 'replica-lost')).toEqual([]);
    expect(await aliveIds(r)).toEqual(['a-0', 'a-1', 'a-2', 'b-0', 'b-1']);
    expect((await view(r)).replicas.map((x: { id: string }) => x.id).sort()).toEqual([a.id, b.id].sort());
  }
}

/** The last status a replica printed. */
async function statusNow(r: Replica): Promise<string | undefined> {
  return r.proc.select((l) => l.evt === 'status').at(-1)?.status;
}

describe('Redis Cluster (3 masters + 3 replicas)', () => {
  let set: RedisClusterSet;
  beforeAll(async () => {
    set = await RedisClusterSet.start(3);
  }, 60_000);
  afterAll(async () => {
    await killAll();
    await set.dispose();
  });

  it('replicas on an ioredis Cluster: the namespace\'s master killed, its replica takes over, no peer lost anywhere', async () => {
    const namespace = 'rc';
    const [a, b] = await startReplicas('', namespace, ['A', 'B'], { cluster, redisCluster: set.startupNodes });
    const key = `{${namespace}}:leases`;
    const master = set.masterOf(key);
    await survivesFailover(a, b, async () => {
      master.signal('SIGKILL');
      await set.failedOver(key, master);
    });
  }, 90_000);
});

describe('Sentinel (master, replica, 3 sentinels)', () => {
  let set: SentinelSet;
  beforeAll(async () => {
    set = await SentinelSet.start();
  }, 60_000);
  afterAll(async () => {
    await killAll();
    await set.dispose();
  });

  it('a managed failover (SENTINEL FAILOVER: the old master stays writable until Sentinel converts it) loses no peer; every replica writes to the new master', async () => {
    const redis = { sentinels: set.sentinelNodes, name: SentinelSet.MASTER_NAME };
    const [a, b] = await startReplicas('', 'sentinel', ['A', 'B'], { cluster: { ...cluster, redis } });
    await survivesFailover(a, b, () => set.failover());
  }, 90_000);
});

describe('a coordinated FAILOVER behind one endpoint', () => {
  let primary: RedisServer;
  let standby: RedisServer;
  let endpoint: RedisEndpoint;
  beforeAll(async () => {
    primary = await RedisServer.start();
    standby = await RedisServer.start({
      args: ['--replicaof', '127.0.0.1', String(primary.port)], readyLine: /MASTER <-> REPLICA sync: Finished with success/,
    });
    endpoint = await RedisEndpoint.start(primary.port);
  });
  afterAll(async () => {
    await killAll();
    await endpoint.close();
    await Promise.all([primary.dispose(), standby.dispose()]);
  });

  it('writes left on the demoted primary get READONLY: the replicas reconnect (to the new primary) and lose no peer', async () => {
    const [a, b] = await startReplicas(endpoint.url, 'readonly', ['A', 'B'], { cluster });
    await survivesFailover(a, b, async () => {
      primary.cli('FAILOVER');
      const deadline = Date.now() + 10_000;
      while (!standby.cli('ROLE').startsWith('master') || !primary.cli('ROLE').startsWith('slave')) {
        if (Date.now() > deadline) throw new Error('FAILOVER did not complete');
        await sleep(50);
      }
      endpoint.switchTo(standby.port);
    });
  }, 60_000);
});
