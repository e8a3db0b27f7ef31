import { DEFAULT_CLUSTER_NAMESPACE, DEFAULT_LEASE_TTL_MS, DEFAULT_RENEW_INTERVAL_MS } from '../common/heartbeat.constants.js';
import { invalidOption } from '../common/heartbeat.messages.js';
import type { ClusterOptions } from '../interfaces/cluster.interface.js';
import * as check from './option-checks.js';
import type { ResolvedClusterOptions } from './resolved-options.js';

const CLUSTER_KEYS = ['redis', 'namespace', 'leaseTtlMs', 'renewIntervalMs'] as const;

/** An ioredis client (standalone or Cluster) rather than options: it has the commands we call. */
export function isRedisClient(value: unknown): boolean {
  return typeof value === 'object' && value !== null
    && typeof (value as { duplicate?: unknown }).duplicate === 'function'
    && typeof (value as { evalsha?: unknown }).evalsha === 'function';
}

/** `cluster`: off unless given. */
export function resolveClusterOptions(given: unknown): ResolvedClusterOptions | undefined {
  if (given === undefined) return undefined;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new TypeError(invalidOption('cluster', 'must be an object with a "redis" entry', given));
  }
  const cluster = check.group<ClusterOptions>('cluster', given, CLUSTER_KEYS);
  const { redis } = cluster;
  const isUrl = typeof redis === 'string' && /^rediss?:\/\/./.test(redis);
  const isOptions = typeof redis === 'object' && redis !== null && !Array.isArray(redis);
  if (!isUrl && !isOptions && !isRedisClient(redis)) {
    throw new TypeError(invalidOption('cluster.redis', 'must be an ioredis client, ioredis options or a redis:// URL',
      typeof redis === 'string' ? redis : typeof redis));
  }
  const namespace = cluster.namespace ?? DEFAULT_CLUSTER_NAMESPACE;
  if (typeof namespace !== 'string' || !/^[\w.:-]{1,100}$/.test(namespace)) {
    throw new TypeError(invalidOption('cluster.namespace', 'must be 1 to 100 characters from [A-Za-z0-9_.:-]', namespace));
  }
  const leaseTtlMs = check.integer('cluster.leaseTtlMs', cluster.leaseTtlMs, DEFAULT_LEASE_TTL_MS, 100);
  const renewIntervalMs = check.integer('cluster.renewIntervalMs', cluster.renewIntervalMs,
    Math.min(DEFAULT_RENEW_INTERVAL_MS, Math.floor(leaseTtlMs / 3)), 10);
  if (renewIntervalMs * 2 > leaseTtlMs) {
    throw new TypeError(invalidOption('cluster.renewIntervalMs', `must be at most half of cluster.leaseTtlMs (${leaseTtlMs}), so one missed renewal does not kill a replica`, renewIntervalMs));
  }
  return { redis, namespace, leaseTtlMs, renewIntervalMs };
}
