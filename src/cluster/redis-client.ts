import type { Redis, RedisOptions } from 'ioredis';
import { ioredisMissing } from '../common/heartbeat.messages.js';

/**
 * ioredis is an optional peer dependency, as in Nest's own Redis transport: it is imported
 * here, lazily, only when `cluster` is configured, so the package root never loads it.
 */
export async function loadIoredis(): Promise<{ Redis: typeof Redis }> {
  try {
    const { Redis: RedisClient } = await import('ioredis');
    return { Redis: RedisClient };
  } catch (error) {
    throw new Error(ioredisMissing(), { cause: error });
  }
}

/** Whether `value` is an ioredis client rather than options. */
export function isRedisClient(value: unknown): value is Redis {
  return typeof value === 'object' && value !== null
    && typeof (value as Redis).duplicate === 'function' && typeof (value as Redis).evalsha === 'function';
}

export interface RedisConnections {
  /** Lease, publish and snapshot commands. */
  client: Redis;
  /** Blocking XREAD; always ours. */
  reader: Redis;
  /** We close `client` only if we made it. */
  ownsClient: boolean;
}

/**
 * Our clients reconnect at least every `renewIntervalMs` (ioredis backs off to 2 s by default):
 * a replica that comes back late after a Redis restart would be lost. The reader never queues
 * or resends while disconnected: the loop that drives it notices the gap and resynchronises.
 */
export async function connectRedis(redis: unknown, renewIntervalMs: number): Promise<RedisConnections> {
  const retryStrategy = (times: number) => Math.min(times * 50, renewIntervalMs);
  const readerOverrides: RedisOptions = { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: 0 };
  if (isRedisClient(redis)) {
    return { client: redis, reader: redis.duplicate({ ...readerOverrides, retryStrategy }), ownsClient: false };
  }
  const { Redis: RedisClient } = await loadIoredis();
  const options: RedisOptions = { retryStrategy, ...(typeof redis === 'object' && redis !== null ? redis as RedisOptions : {}) };
  const client = typeof redis === 'string' ? new RedisClient(redis, options) : new RedisClient(options);
  return { client, reader: client.duplicate({ ...readerOverrides, retryStrategy: options.retryStrategy }), ownsClient: true };
}
