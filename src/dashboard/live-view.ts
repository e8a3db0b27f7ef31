import type { MessageEvent } from '@nestjs/common';
import type { ClusterPresence, ClusterStatus } from '../interfaces/cluster.interface.js';
import type { PeerInfo } from '../interfaces/presence.interface.js';
import type { PresenceService } from '../presence/presence.service.js';
import { allBeats, diffBeats, type BeatState, type Pulse } from './dashboard-beats.js';
import {
  clusterRow, diffRows, diffRowsById, peerRow, type ClusterDiff, type EventRow, type PeerRow, type Snapshot, type Update,
} from './dashboard-rows.js';
import { DASHBOARD_RTT_PULSES, DASHBOARD_RTT_SAMPLES } from './dashboard.constants.js';
import type { PresenceHistory } from './presence-history.js';

/**
 * What the open pages have been sent, kept once for all of them: each change is computed and
 * serialized once, whatever the number of pages. A page that opens gets it as its snapshot,
 * so the diffs that follow apply to exactly what it holds. Exists only while a page is open.
 */
export class LiveView {
  /** Peer id → JSON of the row sent. */
  private readonly peers = new Map<string, string>();
  /** Peer id → its row's `n`, for as long as its row is on the pages. */
  private readonly keys = new Map<string, number>();
  private nextKey = 1;
  private readonly beats = new Map<string, BeatState>();
  /** RTT samples for the sparklines: one per pulse for each peer alive or suspect with an RTT. */
  private readonly samples = new Map<string, number[]>();
  private readonly clusterPeers = new Map<string, string>();
  private replicasJson = '[]';
  private clusterStatus: ClusterStatus | undefined;
  private sentClusterStatus: ClusterStatus | undefined;
  /** Events recorded since the last flush: the tail of the history ring. */
  private pending: EventRow[] = [];
  /** The snapshot without its `now`, until the next change. */
  private snapshotBody: string | undefined;
  private pulses = 0;
  private readonly presence: PresenceService;
  private readonly cluster: ClusterPresence | undefined;

  constructor(private readonly history: PresenceHistory, private readonly self: Snapshot['self']) {
    this.presence = history.presence;
    this.cluster = this.presence.cluster;
    this.pulse(); // fills what was "sent" with the current state: the first snapshot
  }

  eventRecorded(row: EventRow): void {
    this.pending.push(row);
  }

  clusterStatusChanged(status: ClusterStatus): void {
    this.clusterStatus = status;
    this.snapshotBody = undefined;
  }

  /** What a page that opens now is sent first. */
  snapshot(): MessageEvent {
    this.snapshotBody ??= this.snapshotJson();
    return { type: 'snapshot', data: `{"now":${Date.now()},${this.snapshotBody}` };
  }

  /** The changes since the last message, for the peers named by the pending events (no scan of the table). */
  flush(): MessageEvent[] {
    const events = this.pending;
    if (events.length === 0 && this.clusterStatus === this.sentClusterStatus) return [];
    this.pending = [];
    const update: Update = {};
    const local = new Set<string>();
    const remote = new Set<string>();
    for (const event of events) (event.scope === 'local' ? local : remote).add(event.id);
    const peers = diffRowsById(this.peers, local, (id) => {
      const peer = this.presence.get(id);
      return peer && this.row(peer);
    });
    this.forget(peers.remove);
    if (peers.upsert.length > 0 || peers.remove.length > 0) update.peers = peers;
    const cluster = this.diffCluster(remote);
    if (cluster) update.cluster = cluster;
    if (events.length > 0) update.events = events;
    this.snapshotBody = undefined;
    return [message(update)];
  }

  /**
   * Every second: last heard where it went silent or was heard again; RTT every few pulses; as
   * often, the whole table, for what changes without an event (a departed peer's expiry, a
   * second link's address). Nothing is sent when nothing changed.
   */
  pulse(): MessageEvent[] {
    const list = this.presence.peers();
    const update: Update = {};
    const round = this.pulses++ % DASHBOARD_RTT_PULSES === 0;
    if (round) {
      const peers = diffRows(this.peers, list.map((p) => this.row(p)));
      this.forget(peers.remove);
      if (peers.upsert.length > 0 || peers.remove.length > 0) update.peers = peers;
      const cluster = this.diffCluster();
      if (cluster) update.cluster = cluster;
    }
    // Only peers whose row the pages have (a join comes with its event's flush, within 100 ms).
    const now = Date.now();
    const pulse: Pulse = { now, ...diffBeats(this.beats, list, (id) => this.keys.get(id), now, this.self.recentMs, round) };
    if (round) {
      // One sample a round for each peer heard lately (the page keeps them the same way).
      for (const [id, state] of this.beats) {
        if (state.rtt === null || state.silent) continue;
        const samples = this.samples.get(id) ?? [];
        samples.push(state.rtt);
        if (samples.length > DASHBOARD_RTT_SAMPLES) samples.shift();
        this.samples.set(id, samples);
      }
    }
    if (pulse.rtt !== undefined || pulse.heard.length > 0 || pulse.silent.length > 0) update.pulse = pulse;
    if (!update.pulse && !update.peers && !update.cluster) return [];
    this.snapshotBody = undefined;
    return [message(update)];
  }

  private row(peer: PeerInfo): PeerRow {
    let n = this.keys.get(peer.id);
    if (n === undefined) this.keys.set(peer.id, n = this.nextKey++);
    return peerRow(peer, n, this.history.localReason(peer.id));
  }

  /** Rows gone from the pages: their keys and samples too. */
  private forget(ids: readonly string[]): void {
    for (const id of ids) {
      this.keys.delete(id);
      this.samples.delete(id);
      this.beats.delete(id);
    }
  }

  /** Without `ids`, the whole merged view, its replicas and its status. */
  private diffCluster(ids?: Set<string>): ClusterDiff | undefined {
    const cluster = this.cluster;
    if (!cluster) return undefined;
    const reason = (id: string) => this.history.clusterReason(id);
    let diff: ClusterDiff;
    if (ids === undefined) {
      diff = diffRows(this.clusterPeers, cluster.peers().map((p) => clusterRow(p, reason(p.id))));
      const replicas = cluster.replicas();
      const json = JSON.stringify(replicas);
      if (json !== this.replicasJson) {
        this.replicasJson = json;
        diff.replicas = replicas;
      }
    } else {
      diff = diffRowsById(this.clusterPeers, ids, (id) => {
        const peer = cluster.get(id);
        return peer && clusterRow(peer, reason(id));
      });
    }
    if (this.clusterStatus !== this.sentClusterStatus) {
      this.sentClusterStatus = this.clusterStatus;
      diff.status = this.clusterStatus;
    }
    const changed = diff.upsert.length > 0 || diff.remove.length > 0 || diff.replicas !== undefined || diff.status !== undefined;
    return changed ? diff : undefined;
  }

  private snapshotJson(): string {
    // Events still pending reach every page in the next flush: not in the snapshot too.
    const recent = this.history.recent();
    const events = recent.slice(0, Math.max(0, recent.length - this.pending.length));
    const samples: Array<[number, number[]]> = [];
    for (const [id, values] of this.samples) {
      const n = this.keys.get(id);
      if (n !== undefined) samples.push([n, values]);
    }
    const parts = [
      `"self":${JSON.stringify(this.self)}`,
      `"peers":[${[...this.peers.values()].join(',')}]`,
      `"beats":${JSON.stringify(allBeats(this.beats, (id) => this.keys.get(id), Date.now()))}`,
      `"samples":${JSON.stringify(samples)}`,
      `"events":${JSON.stringify(events)}`,
    ];
    if (this.cluster) {
      parts.push(`"cluster":{"status":${JSON.stringify(this.clusterStatus ?? 'connected')},"replicas":${this.replicasJson},`
        + `"peers":[${[...this.clusterPeers.values()].join(',')}]}`);
    }
    return `${parts.join(',')}}`;
  }
}

/** One SSE message per change: a page is written to once per flush and once per pulse, not once per kind of change. */
const message = (update: Update): MessageEvent => ({ type: 'update', data: JSON.stringify(update) });
