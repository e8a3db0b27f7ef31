import { invalidOption } from '../common/heartbeat.messages.js';
import type { ClusterOptions } from '../interfaces/cluster.interface.js';
import { isRedisClient } from '../cluster/redis-client.js';

export const DEFAULT_CLUSTER_NAMESPACE = 'nest-heartbeat';
export const DEFAULT_LEASE_TTL_MS = 10_000;
export const DEFAULT_RENEW_INTERVAL_MS = 2_000;

export interface ResolvedClusterOptions {
  redis: unknown;
  namespace: string;
  leaseTtlMs: number;
  renewIntervalMs: number;
}

/** Validates `cluster` at boot; every message names the option. */
export function resolveClusterOptions(cluster: ClusterOptions | undefined): ResolvedClusterOptions | undefined {
  if (cluster === undefined) return undefined;
  if (typeof cluster !== 'object' || cluster === null || Array.isArray(cluster)) {
    throw new TypeError(invalidOption('cluster', 'must be an object with a "redis" entry', cluster));
  }
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
  const int = (path: string, value: unknown, fallback: number, min: number, rule: string) => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw new TypeError(invalidOption(path, rule, value));
    return value;
  };
  const leaseTtlMs = int('cluster.leaseTtlMs', cluster.leaseTtlMs, DEFAULT_LEASE_TTL_MS, 100, 'must be an integer >= 100');
  const renewIntervalMs = int('cluster.renewIntervalMs', cluster.renewIntervalMs,
    Math.min(DEFAULT_RENEW_INTERVAL_MS, Math.floor(leaseTtlMs / 3)), 10, 'must be an integer >= 10');
  if (renewIntervalMs * 2 > leaseTtlMs) {
    throw new TypeError(invalidOption('cluster.renewIntervalMs', `must be at most half of cluster.leaseTtlMs (${leaseTtlMs}), so one missed renewal does not kill a replica`, renewIntervalMs));
  }
  return { redis, namespace, leaseTtlMs, renewIntervalMs };
}
