import type { Observable } from 'rxjs';
import type { LossReason, PeerStatus } from './presence.interface.js';

/**
 * An ioredis client: a `Redis` (standalone, or Sentinel) or a `Cluster`. Described by what we
 * call on it rather than imported, so that these types check without ioredis installed (it is
 * an optional peer dependency) and with `skipLibCheck: false`.
 */
export interface RedisClientLike {
  readonly status: string;
  duplicate(...args: any[]): unknown;
  evalsha(...args: any[]): Promise<unknown>;
  on(event: any, listener: (...args: any[]) => void): unknown;
}

/**
 * ioredis options, as `new Redis(options)` takes them: standalone (`host`, `port`, `tls`…) or
 * Sentinel (`sentinels` and the master's `name`). The usual ones are typed here; every other
 * ioredis option passes through unchanged.
 */
export type RedisConnectionOptions = {
  host?: string;
  port?: number;
  path?: string;
  username?: string;
  password?: string;
  db?: number;
  tls?: object;
  sentinels?: Array<{ host?: string; port?: number }>;
  name?: string;
} & Record<string, any>;

/**
 * Cluster presence on Redis. Every replica of a service writes its own peer table to Redis and
 * reads everyone else's, so each one sees every peer of the cluster.
 */
export interface ClusterOptions {
  /**
   * An ioredis client — `Redis` (standalone or Sentinel) or `Cluster` — used as is and never
   * closed by us (we `duplicate()` it for blocking reads), ioredis options, or a `redis://` /
   * `rediss://` URL. Requires ioredis (an optional peer dependency). Every key of a namespace
   * shares one hash slot (`{namespace}`), so a Redis Cluster serves a namespace from one shard.
   */
  redis: RedisClientLike | RedisConnectionOptions | string;
  /** One cluster per namespace; all keys live under `{namespace}:`. Default `'nest-heartbeat'`. */
  namespace?: string;
  /** A replica that has not renewed its lease for this long is dead. Default `10000`. */
  leaseTtlMs?: number;
  /** How often a replica renews its lease (and reaps expired ones). Default `2000`. */
  renewIntervalMs?: number;
}

export type ClusterStatus = 'connected' | 'degraded';

export interface ReplicaInfo {
  /** `nodeId/incarnation`: a restarted (or fenced) replica is a new one. */
  id: string;
  nodeId: string;
  metadata: Record<string, string>;
  /** Epoch ms. */
  startedAt: number;
  /** This process. */
  self: boolean;
}

/** One replica's view of a peer. */
export interface ClusterPeerReplica {
  replicaId: string;
  status: PeerStatus;
  direction: 'inbound' | 'outbound';
  address: string;
  /** Epoch ms of the replica's last change of this peer. */
  since: number;
}

export interface ClusterPeerInfo {
  id: string;
  /** Merged: alive if any replica has it alive, then suspect, then lost/left. */
  status: PeerStatus;
  metadata: Record<string, string>;
  replicas: ClusterPeerReplica[];
  /** Epoch ms of the last cluster-level change (joined, lost, left). */
  since: number;
}

export type ClusterPresenceEventType = 'joined' | 'lost' | 'left';

export interface ClusterPresenceEvent {
  /** Cluster level: `joined` when first seen anywhere, `lost`/`left` when no live replica has it. */
  type: ClusterPresenceEventType;
  peer: ClusterPeerInfo;
  /** On `lost`; `'replica-lost'` when the replica that held the peer died. */
  reason?: LossReason;
  /** The replica whose change caused the event. */
  replicaId?: string;
  /** Epoch ms. */
  at: number;
}

/** What `@OnReplicaLost()` handlers receive. */
export interface ReplicaLostEvent {
  type: 'replica-lost';
  replica: ReplicaInfo;
  /** Ids of the peers it held when it was reaped. */
  peerIds: string[];
  at: number;
}

export interface ClusterPresence {
  /** The merged table on subscription, then after each change. */
  readonly peers$: Observable<ClusterPeerInfo[]>;
  /** Cluster-level events, hot; never errors. */
  readonly events$: Observable<ClusterPresenceEvent>;
  /** Live replicas (this one included) on subscription, then after each change. */
  readonly replicas$: Observable<ReplicaInfo[]>;
  /** `degraded` while Redis is unreachable or stalled; local presence goes on regardless. */
  readonly status$: Observable<ClusterStatus>;
  /** Replicas reaped after their lease ran out, hot. */
  readonly replicaLost$: Observable<ReplicaLostEvent>;
  peers(): ClusterPeerInfo[];
  get(peerId: string): ClusterPeerInfo | undefined;
  /** True while any live replica has the peer `alive` or `suspect`. */
  isAlive(peerId: string): boolean;
  replicas(): ReplicaInfo[];
}
