/**
 * The Lua scripts that keep the cluster's state in Redis. Each runs atomically, which is what
 * makes a reap happen exactly once however many replicas try at the same moment, and what
 * fences a replica that was reaped: every write first checks that its lease still exists.
 *
 * Keys (all under one hash tag, `{namespace}`, so a Redis Cluster puts them in one slot):
 *   {ns}:leases    ZSET  replica id -> lease deadline (ms, Redis TIME), plus the member `~clock`:
 *                        the Redis time of the last renew by anyone
 *   {ns}:replicas  HASH  replica id -> {n: nodeId, m: metadata, t: startedAt}
 *   {ns}:peers:<replica id>  HASH  peer id -> entry (one per replica, written only by it)
 *   {ns}:events    STREAM  k (join|peers|sync|bye|reaped), r (replica id), v (payload); capped (MAXLEN ~)
 *
 * Time is Redis's own (TIME), so the replicas' clocks do not matter.
 */

import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS leases, replicas, events · ARGV id, ttl, record, maxlen → now */
export const REGISTER = `${NOW}
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'k', 'join', 'r', ARGV[1], 'v', ARGV[3])
return now`;

/**
 * KEYS leases, replicas, events · ARGV id, ttl, stallMs, maxlen, peersPrefix → {ok, now, reaped, refreshed, nextDeadline}
 *
 * ok = 0: this replica has no lease any more (reaped: fenced). Otherwise renews it and reaps up
 * to 32 expired replicas: remove the lease, delete its table and record, one `reaped` entry.
 * nextDeadline is the earliest lease of another replica still running (-1 if none): the caller
 * comes back at that instant when it falls before its next renewal, so a dead replica is reaped
 * when its lease ends, not up to a renewal later. A replica that renews has its deadline at
 * least leaseTtlMs - renewIntervalMs ahead, so this costs nothing while everyone is alive.
 *
 * The stall guard: if nobody renewed for longer than stallMs (Redis was paused, unreachable, or
 * restarted), every lease looks expired at once though no replica died. Like etcd and Consul
 * after a leader change, we then refresh every lease to a full TTL instead of reaping.
 */
export const RENEW = `${NOW}
local id, ttl, stall = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local scores = redis.call('ZMSCORE', KEYS[1], id, '~clock')
if not scores[1] then return {0, now, 0, 0} end
local last = tonumber(scores[2])
if (not last) or now - last > stall then
  local all = redis.call('ZRANGE', KEYS[1], 0, -1)
  local args = {}
  for _, m in ipairs(all) do
    if m ~= '~clock' then
      args[#args + 1] = now + ttl
      args[#args + 1] = m
      if #args >= 512 then redis.call('ZADD', KEYS[1], unpack(args)); args = {} end
    end
  end
  if #args > 0 then redis.call('ZADD', KEYS[1], unpack(args)) end
  redis.call('ZADD', KEYS[1], now, '~clock')
  return {1, now, 0, 1}
end
local lowest = redis.call('ZRANGE', KEYS[1], 0, 33, 'WITHSCORES')
local reaped, nextDeadline = 0, -1
for i = 1, #lowest, 2 do
  local m, deadline = lowest[i], tonumber(lowest[i + 1])
  if m ~= '~clock' and m ~= id then
    if deadline < now and reaped < 32 then
      redis.call('ZREM', KEYS[1], m)
      redis.call('DEL', ARGV[5] .. m)
      redis.call('HDEL', KEYS[2], m)
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*', 'k', 'reaped', 'r', m)
      reaped = reaped + 1
    elseif deadline >= now and nextDeadline < 0 then
      nextDeadline = deadline
    end
  end
end
redis.call('ZADD', KEYS[1], now, '~clock', now + ttl, id)
return {1, now, reaped, 0, nextDeadline}`;

/**
 * KEYS leases, peers, events · ARGV id, maxlen, mode, payload, then (peer id, entry or '') pairs → 1, or 0 when fenced.
 * '' deletes the peer's field: departed peers live on in the stream only.
 * mode 'peers': the changes go on the stream too (payload). A whole table (after registering) is
 * written in chunks with mode 'reset' (first chunk: the table is replaced), 'more', and 'sync' (last
 * chunk; 'reset-sync' when one chunk holds it all): only one small `sync` entry goes on the stream and readers fetch the table itself, so
 * 10,000 peers do not cost 10,000 stream items.
 */
export const PUBLISH = `if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local mode = ARGV[3]
if mode == 'reset' or mode == 'reset-sync' then redis.call('DEL', KEYS[2]) end
local set, del = {}, {}
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '' then del[#del + 1] = ARGV[i] else set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1] end
end
if #set > 0 then redis.call('HSET', KEYS[2], unpack(set)) end
if #del > 0 then redis.call('HDEL', KEYS[2], unpack(del)) end
if mode == 'peers' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'k', 'peers', 'r', ARGV[1], 'v', ARGV[4])
elseif mode == 'sync' or mode == 'reset-sync' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'k', 'sync', 'r', ARGV[1])
end
return 1`;

/** KEYS leases, replicas, peers, events · ARGV id, maxlen → 1 if it held a lease. */
export const LEAVE = `local had = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[2], ARGV[1])
if had == 1 then redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'k', 'bye', 'r', ARGV[1]) end
return had`;

/**
 * KEYS leases, replicas, events · ARGV peersPrefix → {lastId, {id, record|false, {field, value, …}|false}, …}
 * One consistent cut: the tables as of stream entry lastId, so reading on from it misses nothing.
 * A key of the wrong type (someone else's data) comes back as false, not as an error.
 */
export const SNAPSHOT = `local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local out = { (last[1] and last[1][1]) or '0-0' }
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if m ~= '~clock' then
    local rec = redis.pcall('HGET', KEYS[2], m)
    if type(rec) == 'table' then rec = false end
    local tbl = redis.pcall('HGETALL', ARGV[1] .. m)
    if type(tbl) == 'table' and tbl.err then tbl = false end
    out[#out + 1] = { m, rec, tbl }
  end
end
return out`;

/** A script body and its SHA1, for EVALSHA. */
export interface Script {
  readonly sha: string;
  readonly body: string;
}

const script = (body: string): Script => ({ body, sha: createHash('sha1').update(body).digest('hex') });

export const SCRIPTS = {
  register: script(REGISTER), renew: script(RENEW), publish: script(PUBLISH), leave: script(LEAVE), snapshot: script(SNAPSHOT),
} as const;

/** EVALSHA, falling back to EVAL once when Redis does not have the script (restarted, SCRIPT FLUSH). */
export async function runScript(client: Redis, s: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
    return client.eval(s.body, keys.length, ...keys, ...args);
  }
}

/** The namespace's keys (see the top of this file). */
export interface ClusterKeys {
  readonly leases: string;
  readonly replicas: string;
  readonly events: string;
  /** Followed by a replica id: that replica's peer table. */
  readonly peersPrefix: string;
}

export function clusterKeys(namespace: string): ClusterKeys {
  const tag = `{${namespace}}`;
  return { leases: `${tag}:leases`, replicas: `${tag}:replicas`, events: `${tag}:events`, peersPrefix: `${tag}:peers:` };
}
