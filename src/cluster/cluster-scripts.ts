import { createHash } from 'node:crypto';
import type { RedisLink } from './redis-client.js';

/**
 * The Lua scripts that keep the cluster's state in Redis. Each runs atomically, which is what
 * makes a reap happen exactly once however many replicas try at the same moment, and what
 * fences a replica that was reaped: every write first checks that its lease still exists.
 *
 * Keys (all under one hash tag, `{namespace}`, so a Redis Cluster puts them in one slot):
 *   {ns}:leases    ZSET  replica id -> lease deadline (ms, Redis TIME), plus the member `~clock`:
 *                        the Redis time of the last renew by anyone
 *   {ns}:replicas  HASH  replica id -> {n: nodeId, m: metadata, t: startedAt, p?: previous incarnation}
 *   {ns}:peers:<replica id>  HASH  peer id -> entry (one per replica, written only by it)
 *   {ns}:events    STREAM  k (join|peers|sync|bye|reaped|refresh), r (replica id), v (payload),
 *                        n (sequence number), p (on join: the incarnation it replaces); capped (MAXLEN ~)
 *   {ns}:seq       STRING the last sequence number: every entry takes the next one, so a reader
 *                        sees a gap (entries trimmed before it read them) or a reset (the stream
 *                        and its counter gone: FLUSHALL, DEL, eviction) as a number out of turn
 *
 * Every key carries a TTL (keyTtl, a few leases), refreshed by each replica's renewals: a
 * namespace whose last replica died expires by itself.
 *
 * Time is Redis's own (TIME), so the replicas' clocks do not matter.
 */

/**
 * A write that changes nothing (there is no such member), made before a script concludes
 * anything from what it did not find: on a replica it fails with READONLY. A node that is a
 * replica for a moment — demoted by a failover, empty while it resyncs from the new primary —
 * would otherwise answer "your lease is gone", and the replica asking would fence itself.
 */
const ON_PRIMARY = `redis.call('ZREM', KEYS[1], '~primary')`;

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * add(maxlen, keyTtl, fields…): appends one stream entry numbered from the seq key. The first
 * number of a new counter means the namespace was empty: its shared keys get their TTL.
 * Expects the stream and the seq key as `EVENTS` and `SEQ`, the namespace's shared keys as `SHARED`.
 */
const ADD = `local function add(maxlen, keyTtl, ...)
  local n = redis.call('INCR', SEQ)
  redis.call('XADD', EVENTS, 'MAXLEN', '~', maxlen, '*', 'n', n, ...)
  if n == 1 then for _, key in ipairs(SHARED) do redis.call('PEXPIRE', key, keyTtl) end end
end`;

/** KEYS leases, replicas, events, seq · ARGV id, ttl, record, maxlen, keyTtl, previous id or '', peersPrefix → now */
export const REGISTER = `${NOW}
local EVENTS, SEQ, SHARED = KEYS[3], KEYS[4], {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
${ADD}
local id, ttl, keyTtl, prev = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[5]), ARGV[6]
if prev ~= '' then
  redis.call('ZREM', KEYS[1], prev)
  redis.call('HDEL', KEYS[2], prev)
  redis.call('DEL', ARGV[7] .. prev)
end
redis.call('HSET', KEYS[2], id, ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, id)
if prev ~= '' then add(ARGV[4], keyTtl, 'k', 'join', 'r', id, 'v', ARGV[3], 'p', prev)
else add(ARGV[4], keyTtl, 'k', 'join', 'r', id, 'v', ARGV[3]) end
for _, key in ipairs(SHARED) do redis.call('PEXPIRE', key, keyTtl) end
return now`;

/**
 * KEYS leases, replicas, events, seq · ARGV id, ttl, stallMs, maxlen, peersPrefix, registeredAt, keyTtl, touch
 *   → {ok, now, reaped, refreshed, nextDeadline}
 *
 * ok = 0: this replica has no lease any more (reaped, or Redis forgot it: fenced). Otherwise
 * renews it and reaps up to 32 expired replicas: remove the lease, delete its table and record,
 * one `reaped` entry. nextDeadline is the earliest lease of another replica still running (-1 if
 * none): the caller comes back at that instant when it falls before its next renewal, so a dead
 * replica is reaped when its lease ends, not up to a renewal later. touch = 1: the namespace's
 * keys and our table get their TTL again (the caller asks for it every half lease).
 *
 * The stall guard: if nobody renewed for longer than stallMs (Redis was paused or unreachable,
 * or a failover left this node behind while the replicas wrote to the old primary) and we were
 * there before it (registered, registeredAt, before that last renewal), every lease looks expired
 * though no replica died. Like etcd and Consul after a leader change, we then refresh every lease
 * to a full TTL instead of reaping, and, if any had run out, say so on the stream (`refresh`: a
 * reader that took a snapshot meanwhile takes another). A namespace's very first renewal (no
 * clock yet) takes this path too, with nothing run out. A replica that registered after the last renewal was not
 * there before the gap, so it reaps: the first replica back after a full outage does not revive
 * the dead ones' leases.
 */
export const RENEW = `${NOW}
local EVENTS, SEQ, SHARED = KEYS[3], KEYS[4], {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
${ADD}
local id, ttl, stall, maxlen, prefix = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5]
local registeredAt, keyTtl = tonumber(ARGV[6]), tonumber(ARGV[7])
local scores = redis.call('ZMSCORE', KEYS[1], id, '~clock')
if not scores[1] then
  ${ON_PRIMARY}
  return {0, now, 0, 0, -1}
end
if ARGV[8] == '1' then
  for _, key in ipairs(SHARED) do redis.call('PEXPIRE', key, keyTtl) end
  redis.call('PEXPIRE', prefix .. id, keyTtl)
end
local last = tonumber(scores[2])
if (not last) or (now - last > stall and registeredAt <= last) then
  local all = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local args, expired = {}, false
  for i = 1, #all, 2 do
    local m = all[i]
    if m ~= '~clock' then
      if tonumber(all[i + 1]) < now then expired = true end
      args[#args + 1] = now + ttl
      args[#args + 1] = m
      if #args >= 512 then redis.call('ZADD', KEYS[1], unpack(args)); args = {} end
    end
  end
  if #args > 0 then redis.call('ZADD', KEYS[1], unpack(args)) end
  redis.call('ZADD', KEYS[1], now, '~clock')
  if expired then add(maxlen, keyTtl, 'k', 'refresh', 'r', id) end
  return {1, now, 0, 1, -1}
end
local lowest = redis.call('ZRANGE', KEYS[1], 0, 33, 'WITHSCORES')
local reaped, nextDeadline = 0, -1
for i = 1, #lowest, 2 do
  local m, deadline = lowest[i], tonumber(lowest[i + 1])
  if m ~= '~clock' and m ~= id then
    if deadline < now and reaped < 32 then
      redis.call('ZREM', KEYS[1], m)
      redis.call('DEL', prefix .. m)
      redis.call('HDEL', KEYS[2], m)
      add(maxlen, keyTtl, 'k', 'reaped', 'r', m)
      reaped = reaped + 1
    elseif deadline >= now and nextDeadline < 0 then
      nextDeadline = deadline
    end
  end
end
redis.call('ZADD', KEYS[1], now, '~clock', now + ttl, id)
return {1, now, reaped, 0, nextDeadline}`;

/**
 * KEYS leases, peers, events, seq · ARGV id, maxlen, mode, payload, keyTtl, then (peer id, entry or '') pairs → 1, or 0 when fenced.
 * '' deletes the peer's field: departed peers live on in the stream only.
 * mode 'peers': the changes go on the stream too (payload). A whole table (after registering) is
 * written in chunks with mode 'reset' (first chunk: the table is replaced), 'more', and 'sync' (last
 * chunk; 'reset-sync' when one chunk holds it all): only one small `sync` entry goes on the stream and readers fetch the table itself, so
 * 10,000 peers do not cost 10,000 stream items.
 */
export const PUBLISH = `local EVENTS, SEQ, SHARED = KEYS[3], KEYS[4], {KEYS[1], KEYS[3], KEYS[4]}
${ADD}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  ${ON_PRIMARY}
  return 0
end
local mode, keyTtl = ARGV[3], tonumber(ARGV[5])
if mode == 'reset' or mode == 'reset-sync' then redis.call('DEL', KEYS[2]) end
local set, del = {}, {}
for i = 6, #ARGV, 2 do
  if ARGV[i + 1] == '' then del[#del + 1] = ARGV[i] else set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1] end
end
if #set > 0 then redis.call('HSET', KEYS[2], unpack(set)); redis.call('PEXPIRE', KEYS[2], keyTtl) end
if #del > 0 then redis.call('HDEL', KEYS[2], unpack(del)) end
if mode == 'peers' then
  add(ARGV[2], keyTtl, 'k', 'peers', 'r', ARGV[1], 'v', ARGV[4])
elseif mode == 'sync' or mode == 'reset-sync' then
  add(ARGV[2], keyTtl, 'k', 'sync', 'r', ARGV[1])
end
return 1`;

/** KEYS leases, replicas, peers, events, seq · ARGV id, maxlen, keyTtl → 1 if it held a lease. */
export const LEAVE = `local EVENTS, SEQ, SHARED = KEYS[4], KEYS[5], {KEYS[1], KEYS[2], KEYS[4], KEYS[5]}
${ADD}
local had = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[2], ARGV[1])
if had == 1 then add(ARGV[2], tonumber(ARGV[3]), 'k', 'bye', 'r', ARGV[1]) end
return had`;

/**
 * KEYS leases, replicas, events, seq · ARGV peersPrefix
 *   → {lastId, seq, now, {id, deadline, record|false, {field, value, …}|false}, …}
 * One consistent cut: the tables as of stream entry lastId (number seq), so reading on from it
 * misses nothing. A replica whose lease has run out comes without its table (record and table
 * false): the reader must not take a dead replica's peers for live ones. A key of the wrong type
 * (someone else's data) comes back as false, not as an error. Only from a primary: what a
 * snapshot lacks counts as gone.
 */
export const SNAPSHOT = `${ON_PRIMARY}
${NOW}
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local seq = redis.pcall('GET', KEYS[4])
if type(seq) ~= 'string' then seq = '0' end
local out = { (last[1] and last[1][1]) or '0-0', seq, now }
local leases = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #leases, 2 do
  local m, deadline = leases[i], tonumber(leases[i + 1])
  if m ~= '~clock' then
    if deadline < now then
      out[#out + 1] = { m, deadline, false, false }
    else
      local rec = redis.pcall('HGET', KEYS[2], m)
      if type(rec) == 'table' then rec = false end
      local tbl = redis.pcall('HGETALL', ARGV[1] .. m)
      if type(tbl) == 'table' and tbl.err then tbl = false end
      out[#out + 1] = { m, deadline, rec, tbl }
    end
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
export async function runScript(client: RedisLink, s: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
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
  readonly seq: string;
  /** Followed by a replica id: that replica's peer table. */
  readonly peersPrefix: string;
}

export function clusterKeys(namespace: string): ClusterKeys {
  const tag = `{${namespace}}`;
  return { leases: `${tag}:leases`, replicas: `${tag}:replicas`, events: `${tag}:events`, seq: `${tag}:seq`, peersPrefix: `${tag}:peers:` };
}
