/**
 * What B4 reads from Redis and from its replicas: INFO sections, command counts, memory of our
 * keys, Redis's CPU time, and latency summaries. Shared by bench/b4-cluster.ts (3 replicas) and
 * bench/b4-scale.ts (10 replicas, 100,000 peers).
 */
import type { RedisServer } from '../../test/cluster/support/redis-server.js';
import { quantileSorted } from '../lib/common.js';
import type { LatencyFigures, LoadFigures } from '../lib/results.js';

export function info(redis: RedisServer, section: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of redis.cli('INFO', section).split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
}

/** Calls per command since the last CONFIG RESETSTAT, without the benchmark's own (INFO, CONFIG, DBSIZE, MEMORY, KEYS). */
export function commandCalls(redis: RedisServer): Record<string, number> {
  const calls: Record<string, number> = {};
  for (const [k, v] of Object.entries(info(redis, 'commandstats'))) {
    const name = k.replace(/^cmdstat_/, '');
    if (['info', 'config', 'dbsize', 'config|resetstat', 'memory|usage', 'keys', 'xlen'].includes(name)) continue;
    calls[name] = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
  }
  return calls;
}

export const usedMemory = (redis: RedisServer) => Number(info(redis, 'memory').used_memory);

/** Redis's CPU time (user + system) in seconds, main thread and children. */
export function redisCpuSeconds(redis: RedisServer): number {
  const cpu = info(redis, 'cpu');
  return Number(cpu.used_cpu_user) + Number(cpu.used_cpu_sys);
}

export function keyMemory(redis: RedisServer, namespace: string): { hashesBytes: number; streamBytes: number; streamEntries: number } {
  const usage = (key: string) => Number(redis.cli('MEMORY', 'USAGE', key, 'SAMPLES', '0')) || 0;
  const hashes = redis.cli('KEYS', `{${namespace}}:peers:*`).split('\n').filter(Boolean);
  return {
    hashesBytes: hashes.reduce((a, k) => a + usage(k), 0),
    streamBytes: usage(`{${namespace}}:events`),
    streamEntries: Number(redis.cli('XLEN', `{${namespace}}:events`)),
  };
}

/** Commands per second over a window: all of them (Lua's included), and those the replicas send (EVALSHA, XREAD…). */
export function load(calls: Record<string, number>, windowMs: number, replicas: number): LoadFigures {
  const total = Object.values(calls).reduce((a, b) => a + b, 0);
  const client = ['evalsha', 'eval', 'xread', 'xrange', 'hgetall'].reduce((a, k) => a + (calls[k] ?? 0), 0);
  const s = windowMs / 1000;
  const byCommand = Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, Math.round((v / s) * 100) / 100]));
  return {
    windowMs, totalPerSecond: total / s, clientPerSecond: client / s,
    perReplicaTotal: total / s / replicas, perReplicaClient: client / s / replicas, byCommand,
  };
}

export function latency(samples: number[]): LatencyFigures {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: quantileSorted(s, 0.5), p99: quantileSorted(s, 0.99), max: s[s.length - 1] };
}
