import { killAll, LineProcess, type Line } from './line-process.js';
import { RedisServer } from './redis-server.js';

export type { Line };

export const LEASE_TTL_MS = 1000;
export const RENEW_INTERVAL_MS = 200;

export interface Replica {
  proc: LineProcess;
  port: number;
  /** Replica id at start (`nodeId/incarnation`). */
  id: string;
  name: string;
}

export interface ReplicaOptions {
  /** Overrides of the `cluster` option (lease, renew interval, redis as options…). */
  cluster?: Record<string, unknown>;
  /** Startup nodes of a Redis Cluster: `cluster.redis` becomes an ioredis Cluster. */
  redisCluster?: Array<{ host: string; port: number }>;
  env?: Record<string, string>;
  /** Wait for `connected` (default true). */
  connected?: boolean;
}

/** Starts one replica process on a Redis namespace and waits until it is ready (and connected). */
export async function startReplica(redis: string, namespace: string, name: string, options: ReplicaOptions = {}): Promise<Replica> {
  const proc = new LineProcess('replica-app.ts', [JSON.stringify({
    nodeId: name, server: { port: 0 },
    cluster: { redis, namespace, leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_INTERVAL_MS, ...options.cluster },
    ...(options.redisCluster ? { redisCluster: options.redisCluster } : {}),
  })], options.env);
  const ready = await proc.waitFor((l) => l.evt === 'ready', 30_000, 'ready');
  if (options.connected !== false) await proc.waitFor((l) => l.evt === 'status' && l.status === 'connected', 10_000, 'connected');
  return { proc, port: ready.port, id: ready.replicaId, name };
}

/** Starts replica processes (in parallel) on one Redis namespace and waits until each is connected. */
export async function startReplicas(redis: string, namespace: string, names: string[], options: ReplicaOptions = {}): Promise<Replica[]> {
  return Promise.all(names.map((name) => startReplica(redis, namespace, name, options)));
}

/** Swarm peers ping after a second of sending nothing, as the replicas do (they mostly answer the replicas' pings). */
export function startSwarm(): LineProcess {
  return new LineProcess('swarm.ts', ['1000']);
}

/** Connects peers `ids` from the swarm to `replica` and waits until the replica has them all. */
export async function connectPeers(swarm: LineProcess, replica: Replica, ids: string[]): Promise<Line[]> {
  for (const id of ids) swarm.command({ cmd: 'connect', id, port: replica.port });
  return Promise.all(ids.map((id) => replica.proc.waitFor((l) => l.evt === 'presence' && l.type === 'joined' && l.id === id, 10_000, `local join of ${id}`)));
}

/**
 * Cluster events of `type` seen by `replica` (optionally for peer `id`) printed after `since`
 * (strictly: a line printed in the same millisecond as `since` was taken is one we already awaited).
 */
export function clusterEvents(replica: Replica, type: string, since = 0, id?: string): Line[] {
  return replica.proc.select((l) => l.evt === 'cluster' && l.type === type && l.t > since && (id === undefined || l.id === id));
}

export function waitCluster(replica: Replica, type: string, id: string, since = 0, timeoutMs = 10_000): Promise<Line> {
  return replica.proc.waitFor((l) => l.evt === 'cluster' && l.type === type && l.id === id && l.t > since, timeoutMs, `cluster ${type} of ${id}`);
}

export async function view(replica: Replica): Promise<Line> {
  const since = Date.now();
  replica.proc.command({ cmd: 'view' });
  return replica.proc.waitFor((l) => l.evt === 'view' && l.t >= since, 5000, 'view');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * The fixture of a cluster spec file: one redis-server for the file, a fresh swarm per test,
 * every process killed after each test, and a fresh namespace per call of `ns()`.
 */
export function clusterRig(prefix: string) {
  const rig = {
    redis: undefined as unknown as RedisServer,
    swarm: undefined as unknown as LineProcess,
    n: 0,
    ns: () => `${prefix}${++rig.n}-${process.pid}`,
  };
  beforeAll(async () => {
    rig.redis = await RedisServer.start();
  });
  afterAll(async () => {
    await killAll();
    await rig.redis.dispose();
  });
  beforeEach(async () => {
    rig.swarm = startSwarm();
    await rig.swarm.waitFor((l) => l.evt === 'ready');
  });
  afterEach(async () => {
    await killAll();
  });
  return rig;
}
