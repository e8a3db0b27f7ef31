/**
 * What the presence page receives, as pure functions: rows for the page's tables, keyed diffs
 * against what was sent before, and the once-a-second pulse of the fields that change with
 * every beat. The page (assets/app.js) reads exactly these shapes; one change here is one
 * change there.
 *
 * Server-Sent Events, in order for each page:
 * - `snapshot` {@link Snapshot}: the whole state, first;
 * - `update` {@link Update}: what changed, within 100 ms of an event and with the pulse (each
 *   second, when something did), in one message (a page is written to once per change, not once
 *   per kind of change).
 */
import type { ClusterPeerInfo, ClusterPresenceEvent, ClusterStatus, ReplicaInfo } from '../interfaces/cluster.interface.js';
import type { LossReason, PeerInfo, PeerStatus, PresenceEvent } from '../interfaces/presence.interface.js';
import type { Beats, Pulse } from './dashboard-beats.js';

/** A local peer without the fields the pulse carries (lastSeenAt, rttMs) and without the counters. */
export interface PeerRow extends Pick<PeerInfo, 'id' | 'status' | 'direction' | 'managed' | 'address' | 'metadata' | 'connectedAt'> {
  /** A small number for the peer while the pages are open: what the pulse names it by. */
  n: number;
  /** Why a `lost` peer was lost, when this process saw it happen. */
  reason?: LossReason;
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

/** One `update` message; only the parts that changed are there. */
export interface Update {
  /** Peers that joined or changed, ids that expired. */
  peers?: RowDiff<PeerRow>;
  /** With cluster presence: what changed in the merged view. */
  cluster?: ClusterDiff;
  /** Presence events since the last message, oldest first. */
  events?: EventRow[];
  /** What changed in last heard and RTT (dashboard-beats.ts). */
  pulse?: Pulse;
}

export interface ClusterSnapshot {
  status: ClusterStatus;
  replicas: ReplicaInfo[];
  peers: ClusterRow[];
}

export interface Snapshot {
  now: number;
  /** This process: its nodeId and timing, for the page's header. */
  self: { nodeId?: string; intervalMs?: number; lostAfterMs?: number; recentMs: number };
  peers: PeerRow[];
  /** Last heard and RTT of every peer, as a pulse from nothing. */
  beats: Beats;
  /** Recent RTT samples by row `n`, oldest first (the sparklines' history). */
  samples: Array<[number, number[]]>;
  events: EventRow[];
  cluster?: ClusterSnapshot;
}

export function peerRow(peer: PeerInfo, n: number, reason: LossReason | undefined): PeerRow {
  const row: PeerRow = {
    id: peer.id, n, status: peer.status, direction: peer.direction, managed: peer.managed,
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
