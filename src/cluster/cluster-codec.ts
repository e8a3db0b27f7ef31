import type { ReplicaInfo } from '../interfaces/cluster.interface.js';
import type { PeerInfo, PresenceEvent } from '../interfaces/presence.interface.js';
import type { PeerEntry } from './cluster-view.js';

/**
 * What goes into Redis, and the tolerant way back. Entries are short JSON (one-letter keys:
 * Redis memory is counted per peer) and anything that does not decode is reported to the
 * caller, never thrown: a foreign writer in our namespace must not stop a replica.
 */

const STATUS = { a: 'alive', s: 'suspect', l: 'lost', d: 'left' } as const;
const STATUS_CODE = { alive: 'a', suspect: 's', lost: 'l', left: 'd' } as const;

interface WireEntry { s: keyof typeof STATUS; d: 'i' | 'o'; a: string; m?: Record<string, string>; t: number; r?: string }

export function encodeEntry(e: PeerEntry): string {
  return JSON.stringify(toWire(e));
}

export function toWire(e: PeerEntry): object {
  const w: WireEntry = { s: STATUS_CODE[e.status], d: e.direction === 'inbound' ? 'i' : 'o', a: e.address, t: Math.round(e.since) };
  if (Object.keys(e.metadata).length > 0) w.m = e.metadata;
  if (e.reason) w.r = e.reason;
  return w;
}

export function decodeEntry(raw: unknown): PeerEntry | undefined {
  try {
    const w = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Partial<WireEntry>;
    if (!w || typeof w !== 'object' || !(w.s! in STATUS) || (w.d !== 'i' && w.d !== 'o')) return undefined;
    if (typeof w.a !== 'string' || typeof w.t !== 'number') return undefined;
    const metadata = w.m ?? {};
    if (typeof metadata !== 'object' || Array.isArray(metadata) || Object.values(metadata).some((v) => typeof v !== 'string')) return undefined;
    const entry: PeerEntry = { status: STATUS[w.s!], direction: w.d === 'i' ? 'inbound' : 'outbound', address: w.a, metadata, since: w.t };
    if (typeof w.r === 'string') entry.reason = w.r as PeerEntry['reason'];
    return entry;
  } catch {
    return undefined;
  }
}

/** A local presence event as this replica's entry for the peer. */
export function entryFromEvent(event: PresenceEvent): PeerEntry {
  const status = event.type === 'lost' ? 'lost' : event.type === 'left' ? 'left' : event.type === 'suspect' ? 'suspect' : 'alive';
  return entryFromPeer(event.peer, status, event.at, event.reason);
}

export function entryFromPeer(peer: PeerInfo, status = peer.status, since = peer.lastSeenAt, reason?: PeerEntry['reason']): PeerEntry {
  const entry: PeerEntry = { status, direction: peer.direction, address: peer.address, metadata: peer.metadata, since };
  if (reason) entry.reason = reason;
  return entry;
}

export type ReplicaRecord = Omit<ReplicaInfo, 'self'>;

export function encodeReplica(r: ReplicaRecord, previousId?: string): string {
  return JSON.stringify(previousId ? { n: r.nodeId, m: r.metadata, t: r.startedAt, p: previousId } : { n: r.nodeId, m: r.metadata, t: r.startedAt });
}

/** A replica's record, and the incarnation it replaced (after fencing) if any. */
export function decodeReplica(id: string, raw: unknown): (ReplicaRecord & { previousId?: string }) | undefined {
  try {
    const w = JSON.parse(String(raw)) as { n?: unknown; m?: unknown; t?: unknown; p?: unknown };
    if (typeof w?.n !== 'string' || typeof w.t !== 'number') return undefined;
    const m = w.m ?? {};
    if (typeof m !== 'object' || Array.isArray(m)) return undefined;
    const record: ReplicaRecord & { previousId?: string } = { id, nodeId: w.n, metadata: m as Record<string, string>, startedAt: w.t };
    if (typeof w.p === 'string' && w.p.length > 0) record.previousId = w.p;
    return record;
  } catch {
    return undefined;
  }
}

/** One entry of the transitions stream; `seq` is its number (absent in entries of older versions). */
export type StreamRecord = { seq?: number } & (
  | { kind: 'join'; replica: ReplicaRecord; previousId?: string }
  | { kind: 'peers'; replicaId: string; changes: Array<[string, PeerEntry]> }
  | { kind: 'sync'; replicaId: string }
  | { kind: 'bye'; replicaId: string }
  | { kind: 'reaped'; replicaId: string }
  | { kind: 'refresh'; replicaId: string });

/** Field list of a stream entry (`k` kind, `r` replica, `v` payload, `n` number, `p` previous incarnation) or a reason why not. */
export function decodeStreamEntry(fields: string[]): StreamRecord | string {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]] = fields[i + 1];
  const record = decodeKind(f);
  if (typeof record === 'string') return record;
  const seq = Number(f.n);
  if (f.n !== undefined && Number.isSafeInteger(seq) && seq > 0) record.seq = seq;
  return record;
}

function decodeKind(f: Record<string, string>): StreamRecord | string {
  const replicaId = f.r;
  if (typeof replicaId !== 'string' || replicaId.length === 0) return 'no replica id';
  switch (f.k) {
    case 'join': {
      const replica = decodeReplica(replicaId, f.v);
      if (!replica) return 'bad replica record';
      const { previousId, ...info } = replica;
      const previous = typeof f.p === 'string' && f.p.length > 0 ? f.p : previousId;
      return previous ? { kind: 'join', replica: info, previousId: previous } : { kind: 'join', replica: info };
    }
    case 'sync':
    case 'bye':
    case 'reaped':
    case 'refresh':
      return { kind: f.k, replicaId };
    case 'peers': {
      let list: unknown;
      try {
        list = JSON.parse(f.v ?? '');
      } catch {
        return 'payload is not JSON';
      }
      if (!Array.isArray(list)) return 'payload is not a list';
      const changes: Array<[string, PeerEntry]> = [];
      for (const item of list) {
        const entry = Array.isArray(item) && typeof item[0] === 'string' ? decodeEntry(item[1]) : undefined;
        if (!entry) return 'bad peer entry';
        changes.push([item[0], entry]);
      }
      return { kind: 'peers', replicaId, changes };
    }
    default:
      return `unknown kind ${JSON.stringify(f.k ?? null)}`;
  }
}
