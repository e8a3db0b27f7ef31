import type { MessageEvent } from '@nestjs/common';
import type { ClusterPresence, ClusterStatus } from '../interfaces/cluster.interface.js';
import type { PresenceService } from '../presence/presence.service.js';
import {
  clusterRow, diffBeats, diffRows, diffRowsById, peerRow, type Beat, type ClusterDiff, type EventRow, type Pulse, type Snapshot,
} from './dashboard-rows.js';
import { DASHBOARD_RTT_SAMPLES } from './dashboard.constants.js';
import type { PresenceHistory } from './presence-history.js';

/**
 * What the open pages have been sent, kept once for all of them: each change is computed and
 * serialized once, whatever the number of pages. A page that opens gets it as its snapshot,
 * so the diffs that follow apply to exactly what it holds. Exists only while a page is open.
 */
export class LiveView {
  /** Peer id → JSON of the row sent. */
  private readonly peers = new Map<string, string>();
  private readonly beats = new Map<string, Beat>();
  private readonly rtt = new Map<string, number[]>();
  private readonly clusterPeers = new Map<string, string>();
  private replicasJson = '[]';
  private clusterStatus: ClusterStatus | undefined;
  private sentClusterStatus: ClusterStatus | undefined;
  /** Events recorded since the last flush: the tail of the history ring. */
  private pending: EventRow[] = [];
  /** The snapshot without its `now`, until the next change. */
  private snapshotBody: string | undefined;
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
    const local = new Set<string>();
    const remote = new Set<string>();
    for (const event of events) (event.scope === 'local' ? local : remote).add(event.id);
    const out: MessageEvent[] = [];
    const peers = diffRowsById(this.peers, local, (id) => {
      const peer = this.presence.get(id);
      return peer && peerRow(peer, this.history.localReason(id));
    });
    if (peers.upsert.length > 0 || peers.remove.length > 0) out.push(message('peers', peers));
    const cluster = this.diffCluster(remote);
    if (cluster) out.push(message('cluster', cluster));
    if (events.length > 0) out.push(message('events', events));
    this.snapshotBody = undefined;
    return out;
  }

  /** Every second: last heard and RTT where they moved, and whatever changed without an event (expiry, address). */
  pulse(): MessageEvent[] {
    const list = this.presence.peers();
    const out: MessageEvent[] = [];
    const peers = diffRows(this.peers, list.map((p) => peerRow(p, this.history.localReason(p.id))));
    for (const id of peers.remove) this.rtt.delete(id);
    if (peers.upsert.length > 0 || peers.remove.length > 0) out.push(message('peers', peers));
    const cluster = this.diffCluster();
    if (cluster) out.push(message('cluster', cluster));
    const beats = diffBeats(this.beats, list);
    for (const [id, , rttMs] of beats) {
      if (rttMs === null) continue;
      const samples = this.rtt.get(id) ?? [];
      samples.push(rttMs);
      if (samples.length > DASHBOARD_RTT_SAMPLES) samples.shift();
      this.rtt.set(id, samples);
    }
    const pulse: Pulse = { now: Date.now(), beats };
    out.push(message('pulse', pulse));
    this.snapshotBody = undefined;
    return out;
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
    const parts = [
      `"self":${JSON.stringify(this.self)}`,
      `"peers":[${[...this.peers.values()].join(',')}]`,
      `"beats":${JSON.stringify([...this.beats.values()])}`,
      // Pairs, not an object: a peer id is any printable string, `__proto__` included.
      `"rtt":${JSON.stringify([...this.rtt])}`,
      `"events":${JSON.stringify(events)}`,
    ];
    if (this.cluster) {
      parts.push(`"cluster":{"status":${JSON.stringify(this.clusterStatus ?? 'connected')},"replicas":${this.replicasJson},`
        + `"peers":[${[...this.clusterPeers.values()].join(',')}]}`);
    }
    return `${parts.join(',')}}`;
  }
}

const message = (type: string, data: unknown): MessageEvent => ({ type, data: JSON.stringify(data) });
