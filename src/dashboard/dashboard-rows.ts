/**
 * What the presence page receives, as pure functions: rows for the page's tables, keyed diffs
 * against what was sent before, and the once-a-second pulse of the fields that change with
 * every beat. The page (assets/app.js) reads exactly these shapes; one change here is one
 * change there.
 *
 * Server-Sent Events, in order for each page:
 * - `snapshot` {@link Snapshot}: the whole state, first.
 * - `peers` {@link RowDiff} of {@link PeerRow}: peers that joined or changed, ids that expired.
 * - `pulse` {@link Pulse}: every second, last heard and RTT of the peers where they moved.
 * - `events` {@link EventRow}[]: presence events since the last message, oldest first.
 * - `cluster` {@link ClusterDiff}: with cluster presence, what changed in the merged view.
 */
import type { ClusterPeerInfo, ClusterPresenceEvent, ClusterStatus, ReplicaInfo } from '../interfaces/cluster.interface.js';
import type { LossReason, PeerInfo, PeerStatus, PresenceEvent } from '../interfaces/presence.interface.js';

/** A local peer without the fields the pulse carries (lastSeenAt, rttMs) and without the counters. */
export interface PeerRow {
  id: string;
  status: PeerStatus;
  direction: 'inbound' | 'outbound';
  managed: boolean;
  address: string;
  metadata: Record<string, string>;
  connectedAt: number;
  /** Why a `lost` peer was lost, when this process saw it happen. */
  reason?: LossReason;
}

/** `[peer id, lastSeenAt (epoch ms), rttMs rounded to 0.01 ms or null]` */
export type Beat = [string, number, number | null];

export interface Pulse {
  /** The server's clock (epoch ms): the page measures "last heard" against it, not its own. */
  now: number;
  beats: Beat[];
}

export interface EventRow {
  scope: 'local' | 'cluster';
  type: PresenceEvent['type'];
  id: string;
  /** The peer's status after the event. */
  status: PeerStatus;
  at: number;
  reason?: LossReason;
  /** Cluster events: the replica whose change caused it. */
  replicaId?: string;
  /** Local `joined`: where from. */
  address?: string;
}

export interface ClusterRow extends ClusterPeerInfo {
  reason?: LossReason;
}

export interface RowDiff<Row> {
  upsert: Row[];
  remove: string[];
}

export interface ClusterDiff extends RowDiff<ClusterRow> {
  status?: ClusterStatus;
  replicas?: ReplicaInfo[];
}

export interface ClusterSnapshot {
  status: ClusterStatus;
  replicas: ReplicaInfo[];
  peers: ClusterRow[];
}

export interface Snapshot {
  now: number;
  /** This process: its nodeId and timing, for the page's header. */
  self: { nodeId?: string; intervalMs?: number; lostAfterMs?: number };
  peers: PeerRow[];
  /** Last heard and RTT of every peer, as in a pulse. */
  beats: Beat[];
  /** Recent RTT samples by peer id, oldest first (the sparklines' history); pairs, as a peer id may be `__proto__`. */
  rtt: Array<[string, number[]]>;
  events: EventRow[];
  cluster?: ClusterSnapshot;
}

export const roundRtt = (rttMs: number | undefined): number | null =>
  rttMs === undefined ? null : Math.round(rttMs * 100) / 100;

export function peerRow(peer: PeerInfo, reason: LossReason | undefined): PeerRow {
  const row: PeerRow = {
    id: peer.id, status: peer.status, direction: peer.direction, managed: peer.managed,
    address: peer.address, metadata: peer.metadata, connectedAt: peer.connectedAt,
  };
  if (peer.status === 'lost' && reason !== undefined) row.reason = reason;
  return row;
}

export function clusterRow(peer: ClusterPeerInfo, reason: LossReason | undefined): ClusterRow {
  return peer.status === 'lost' && reason !== undefined ? { ...peer, reason } : peer;
}

export function localEventRow(event: PresenceEvent): EventRow {
  const row: EventRow = { scope: 'local', type: event.type, id: event.peer.id, status: event.peer.status, at: event.at };
  if (event.reason !== undefined) row.reason = event.reason;
  if (event.type === 'joined') row.address = event.peer.address;
  return row;
}

export function clusterEventRow(event: ClusterPresenceEvent): EventRow {
  const row: EventRow = { scope: 'cluster', type: event.type, id: event.peer.id, status: event.peer.status, at: event.at };
  if (event.reason !== undefined) row.reason = event.reason;
  if (event.replicaId !== undefined) row.replicaId = event.replicaId;
  return row;
}

/**
 * The rows that differ from what was sent (compared as JSON, so nested metadata counts) and
 * the ids that are gone; `sent` is updated to `rows`.
 */
export function diffRows<Row extends { id: string }>(sent: Map<string, string>, rows: readonly Row[]): RowDiff<Row> {
  const upsert: Row[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    seen.add(row.id);
    const json = JSON.stringify(row);
    if (sent.get(row.id) !== json) {
      sent.set(row.id, json);
      upsert.push(row);
    }
  }
  const remove: string[] = [];
  for (const id of sent.keys()) {
    if (!seen.has(id)) remove.push(id);
  }
  for (const id of remove) sent.delete(id);
  return { upsert, remove };
}

/** Like `diffRows`, for the named rows only (`rowOf` undefined: the row is gone). */
export function diffRowsById<Row extends { id: string }>(
  sent: Map<string, string>, ids: Iterable<string>, rowOf: (id: string) => Row | undefined,
): RowDiff<Row> {
  const upsert: Row[] = [];
  const remove: string[] = [];
  for (const id of ids) {
    const row = rowOf(id);
    if (row === undefined) {
      if (sent.delete(id)) remove.push(id);
      continue;
    }
    const json = JSON.stringify(row);
    if (sent.get(id) !== json) {
      sent.set(id, json);
      upsert.push(row);
    }
  }
  return { upsert, remove };
}

/** The beat of one peer. */
export const beatOf = (peer: PeerInfo): Beat => [peer.id, peer.lastSeenAt, roundRtt(peer.rttMs)];

/** Beats of the peers whose last-heard time or RTT moved since `sent`; `sent` is updated to `peers`. */
export function diffBeats(sent: Map<string, Beat>, peers: readonly PeerInfo[]): Beat[] {
  const beats: Beat[] = [];
  for (const peer of peers) {
    const before = sent.get(peer.id);
    const beat = beatOf(peer);
    if (before === undefined || before[1] !== beat[1] || before[2] !== beat[2]) {
      sent.set(peer.id, beat);
      beats.push(beat);
    }
  }
  if (sent.size > peers.length) {
    const ids = new Set(peers.map((p) => p.id));
    for (const id of sent.keys()) if (!ids.has(id)) sent.delete(id);
  }
  return beats;
}
