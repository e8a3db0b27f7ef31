import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { ioredisMissing } from '../common/heartbeat.messages.js';
import { isRedisClient as looksLikeClient } from '../options/resolve-cluster-options.js';

/**
 * ioredis is an optional peer dependency, as in Nest's own Redis transport: it is imported
 * here, lazily, only when `cluster` is configured, so the package root never loads it. This is
 * the one file of the library that names its types.
 */
export async function loadIoredis(): Promise<{ Redis: typeof Redis }> {
  try {
    const { Redis: RedisClient } = await import('ioredis');
    return { Redis: RedisClient };
  } catch (error) {
    throw new Error(ioredisMissing(), { cause: error });
  }
}

/**
 * What the cluster parts use of a connection, the same for a Redis (standalone or Sentinel) and
 * a Cluster: both route these commands by key, and every key of a namespace has one hash slot.
 */
export interface RedisLink {
  readonly status: string;
  evalsha(sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
  xread(...args: Array<string | number>): Promise<unknown>;
  xrange(key: string, start: string, end: string): Promise<unknown[]>;
  hgetall(key: string): Promise<Record<string, string>>;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** Whether `value` is an ioredis client (Redis or Cluster) rather than options (the check the options resolver makes). */
export const isRedisClient = (value: unknown): value is Redis | Cluster => looksLikeClient(value);

const isCluster = (value: Redis | Cluster): value is Cluster => (value as Cluster).isCluster === true;

export interface RedisConnections {
  /** Lease, publish and snapshot commands. */
  client: RedisLink;
  /** Blocking XREAD; always ours. */
  reader: RedisLink;
  /** We close `client` only if we made it. */
  ownsClient: boolean;
}

/**
 * After a coordinated failover (Redis's FAILOVER, or a managed service moving its primary behind
 * one address) a connection left on the demoted primary answers every write with READONLY:
 * reconnect, which reaches the new primary (through Sentinel, or the address that moved), and
 * resend the command. Sentinel's own failovers close the connections instead.
 */
export const reconnectOnReadonly = (error: Error): 2 | false => (/^READONLY/.test(error.message) ? 2 : false);

/**
 * Our clients reconnect at least every `renewIntervalMs` (ioredis backs off to 2 s by default):
 * a replica that comes back late after a Redis restart would be lost. The reader never queues
 * or resends while disconnected: the loop that drives it notices the gap and resynchronises.
 * A Cluster given to us is duplicated the Cluster way (startup nodes, then options).
 *
 * With Sentinel, our clients move to the new master when the sentinels announce it
 * (`failoverDetector`): Sentinel leaves the old master writable until it converts it, ~10 s
 * after a managed failover, and every write that lands there meanwhile is lost — leases
 * included, so replicas that stayed would be reaped.
 */
export async function connectRedis(redis: unknown, renewIntervalMs: number): Promise<RedisConnections> {
  const retryStrategy = (times: number) => Math.min(times * 50, renewIntervalMs);
  const readerOverrides: RedisOptions = {
    enableOfflineQueue: false, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0, reconnectOnError: reconnectOnReadonly,
  };
  if (isRedisClient(redis)) {
    const reader = isCluster(redis)
      ? redis.duplicate(undefined, {
        enableOfflineQueue: false,
        redisOptions: { ...redis.options.redisOptions, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false },
      } satisfies ClusterOptions)
      : redis.duplicate({ ...readerOverrides, retryStrategy });
    return { client: redis as unknown as RedisLink, reader: reader as unknown as RedisLink, ownsClient: false };
  }
  const { Redis: RedisClient } = await loadIoredis();
  const given = typeof redis === 'object' && redis !== null ? redis as RedisOptions : {};
  const options: RedisOptions = {
    retryStrategy, reconnectOnError: reconnectOnReadonly, ...(given.sentinels ? { failoverDetector: true } : {}), ...given,
  };
  const client = typeof redis === 'string' ? new RedisClient(redis, options) : new RedisClient(options);
  const reader = client.duplicate({ ...readerOverrides, retryStrategy: options.retryStrategy });
  return { client: client as unknown as RedisLink, reader: reader as unknown as RedisLink, ownsClient: true };
}

/** Where the cluster's Redis is, for log lines: never a password. */
export function describeRedis(redis: unknown): string {
  if (typeof redis === 'string') {
    try {
      const url = new URL(redis);
      return `${url.protocol}//${url.username ? `${decodeURIComponent(url.username)}@` : ''}${url.host}${url.pathname.length > 1 ? url.pathname : ''}`;
    } catch {
      return 'the configured URL';
    }
  }
  if (isRedisClient(redis)) return isCluster(redis) ? 'the given Redis Cluster client' : 'the given Redis client';
  const o = (redis ?? {}) as RedisOptions & { sentinels?: Array<{ host?: string; port?: number }>; name?: string };
  if (Array.isArray(o.sentinels) && o.sentinels.length > 0) {
    return `master "${o.name ?? ''}" via sentinels ${o.sentinels.map((s) => `${s.host ?? 'localhost'}:${s.port ?? 26379}`).join(', ')}`;
  }
  if (o.path) return o.path;
  return `${o.tls ? 'rediss' : 'redis'}://${o.host ?? 'localhost'}:${o.port ?? 6379}`;
}
