import type {
  ClusterPeerInfo, ClusterPeerReplica, ClusterPresenceEvent, ReplicaInfo,
} from '../interfaces/cluster.interface.js';
import type { LossReason, PeerStatus } from '../interfaces/presence.interface.js';

/** One replica's entry for a peer, as written to (and read from) Redis. */
export interface PeerEntry {
  status: PeerStatus;
  direction: 'inbound' | 'outbound';
  address: string;
  metadata: Record<string, string>;
  /** Epoch ms of the replica's last change of this peer. */
  since: number;
  /** On `lost`. */
  reason?: LossReason;
}

export interface ClusterViewOptions {
  /**
   * A peer lost on one replica is reported lost to the cluster only when no replica has had it
   * alive for this long, so a peer that hops from A to B (A sees the link drop, B sees it join)
   * makes no cluster loss. We use the lease TTL: a hop is a reconnect, which takes less.
   */
  hopGraceMs: number;
  /** How long a replica that vanished from Redis without a trace (Redis restarted empty, history trimmed) may take to re-register before its peers are lost. */
  probationMs: number;
  /** How long a lost or left peer stays in the table. */
  retentionMs: number;
}

export interface ReplicaLoss {
  replica: ReplicaInfo;
  peerIds: string[];
}

export interface ViewChange {
  events: ClusterPresenceEvent[];
  replicasLost: ReplicaLoss[];
}

interface ReplicaState {
  info: ReplicaInfo;
  peers: Map<string, PeerEntry>;
  /** Set while we wait for a replica of unknown fate to show up again. */
  probationUntil?: number;
}

/** What the cluster has been told about a peer: present, lost but maybe hopping, or departed. */
interface PeerRecord {
  state: 'present' | 'pending' | 'departed';
  since: number;
  departedAs?: 'lost' | 'left';
  reason?: LossReason;
  replicaId?: string;
  pendingUntil?: number;
  /** Last metadata seen, for snapshots of departed peers. */
  metadata: Record<string, string>;
}

type Cause =
  | { kind: 'update'; replicaId: string; reason?: LossReason }
  | { kind: 'replica-lost' | 'replica-left'; replicaId: string };

const isLive = (s: PeerStatus) => s === 'alive' || s === 'suspect';

/**
 * The merged cluster table and the events it derives, as a pure state machine: every method
 * takes `now` and returns the events it caused, so it runs the same on virtual time in tests
 * and on the wall clock in ClusterPresenceService. It knows nothing of Redis.
 *
 * Rules: a peer is one cluster peer however many replicas hold it; its status is the best of
 * their entries (alive > suspect > lost/left). `joined` when some replica first has it live;
 * `left` / `lost` only when no live replica still has it — at once for the peer's own goodbye or
 * a replica that died (`replica-lost`), after `hopGraceMs` for a loss seen by one replica or a
 * replica that shut down (the hand-over: its peers are reconnecting elsewhere, or `lost` with
 * `replica-left` when the grace ends); meanwhile the merged status is `suspect`.
 */
export class ClusterView {
  private readonly replicas = new Map<string, ReplicaState>();
  private readonly records = new Map<string, PeerRecord>();
  /** Peers whose loss waits out the hop grace: `tick` looks at these only. */
  private readonly pending = new Set<string>();
  private nextPurgeAt = 0;

  constructor(self: Omit<ReplicaInfo, 'self'>, private readonly options: ClusterViewOptions) {
    this.selfId = self.id;
    this.replicas.set(self.id, { info: { ...self, self: true }, peers: new Map() });
  }

  selfId: string;

  // ---- queries --------------------------------------------------------------------------------

  replicaInfos(): ReplicaInfo[] {
    return [...this.replicas.values()].map((r) => ({ ...r.info, metadata: { ...r.info.metadata } }));
  }

  hasReplica(id: string): boolean {
    return this.replicas.has(id);
  }

  /** Peer entries of one replica (live and departed). */
  entriesOf(replicaId: string): ReadonlyMap<string, PeerEntry> | undefined {
    return this.replicas.get(replicaId)?.peers;
  }

  peers(): ClusterPeerInfo[] {
    return [...this.records.keys()].map((id) => this.snapshot(id));
  }

  get(peerId: string): ClusterPeerInfo | undefined {
    return this.records.has(peerId) ? this.snapshot(peerId) : undefined;
  }

  isAlive(peerId: string): boolean {
    const s = this.get(peerId)?.status;
    return s === 'alive' || s === 'suspect';
  }

  /** The earliest time `tick` has something to do, if any. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    const consider = (t: number | undefined) => {
      if (t !== undefined && (next === undefined || t < next)) next = t;
    };
    for (const id of this.pending) consider(this.records.get(id)?.pendingUntil);
    for (const r of this.replicas.values()) consider(r.probationUntil);
    return next;
  }

  // ---- changes --------------------------------------------------------------------------------

  /** A replica registered (or showed up again after probation). */
  upsertReplica(info: Omit<ReplicaInfo, 'self'>): void {
    const existing = this.replicas.get(info.id);
    if (existing) {
      existing.info = { ...info, self: info.id === this.selfId };
      existing.probationUntil = undefined;
    } else {
      this.replicas.set(info.id, { info: { ...info, self: info.id === this.selfId }, peers: new Map() });
    }
  }

  /**
   * Another replica came back under a new incarnation (it was fenced): what its old one held
   * moves to the new one, silently, so no view keeps the old incarnation (a ghost that would keep
   * its peers alive) and its peers make no event. The new one's table, read next, reconciles.
   */
  supersede(previousId: string, info: Omit<ReplicaInfo, 'self'>, now: number): ClusterPresenceEvent[] {
    const old = this.replicas.get(previousId);
    if (!old || previousId === this.selfId || previousId === info.id) {
      this.upsertReplica(info);
      return [];
    }
    this.replicas.delete(previousId);
    const current = this.replicas.get(info.id);
    if (!current) {
      this.replicas.set(info.id, { info: { ...info, self: info.id === this.selfId }, peers: old.peers });
      return [];
    }
    this.upsertReplica(info);
    // Both incarnations known (a snapshot saw the new one first): the old one's peers wait out the grace.
    const events: ClusterPresenceEvent[] = [];
    for (const [peerId, entry] of old.peers) {
      if (isLive(entry.status)) events.push(...this.recompute(peerId, now, { kind: 'update', replicaId: info.id, reason: entry.reason }));
    }
    return events;
  }

  /** This replica re-registered under a new incarnation (it was fenced): its entries move along, silently. */
  rekeySelf(info: Omit<ReplicaInfo, 'self'>): void {
    const old = this.replicas.get(this.selfId);
    this.replicas.delete(this.selfId);
    this.selfId = info.id;
    this.replicas.set(info.id, { info: { ...info, self: true }, peers: old?.peers ?? new Map() });
  }

  /** One replica's entry for one peer changed. Unknown replicas are registered on the fly. */
  setPeer(replicaId: string, peerId: string, entry: PeerEntry, now: number): ClusterPresenceEvent[] {
    const replica = this.replicaOrStub(replicaId, entry.since);
    const previous = replica.peers.get(peerId);
    if (!isLive(entry.status) && (!previous || !isLive(previous.status))) {
      // A departure of an entry we never had live: nothing to derive from it.
      if (previous) replica.peers.set(peerId, entry);
      return [];
    }
    replica.peers.set(peerId, entry);
    return this.recompute(peerId, now, { kind: 'update', replicaId, reason: entry.reason });
  }

  /**
   * A replica's whole table as Redis holds it now (startup, or resync after a gap in the
   * stream). Entries missing from it were dropped while we were not looking: treated as losses
   * (with the hop grace), since we cannot tell a goodbye from a crash after the fact.
   */
  replacePeers(replicaId: string, table: Map<string, PeerEntry>, now: number): ClusterPresenceEvent[] {
    const replica = this.replicaOrStub(replicaId, now);
    const events: ClusterPresenceEvent[] = [];
    for (const [peerId, entry] of replica.peers) {
      if (isLive(entry.status) && !table.has(peerId)) {
        events.push(...this.setPeer(replicaId, peerId, { ...entry, status: 'lost', since: now }, now));
      }
    }
    for (const [peerId, entry] of table) {
      const previous = replica.peers.get(peerId);
      if (previous && previous.status === entry.status && previous.since === entry.since) continue;
      events.push(...this.setPeer(replicaId, peerId, entry, now));
    }
    return events;
  }

  /**
   * A replica is gone: reaped after its lease ran out (its live peers are `lost` with reason
   * `replica-lost` unless another replica has them), or shut down gracefully (`left`): then it
   * hands its peers over — they did not leave, the replica did — and each one not live elsewhere
   * waits `hopGraceMs` for its reconnect before it is `lost` with reason `replica-left`.
   */
  removeReplica(replicaId: string, how: 'reaped' | 'left', now: number): ViewChange {
    const replica = this.replicas.get(replicaId);
    if (!replica || replicaId === this.selfId) return { events: [], replicasLost: [] };
    const events: ClusterPresenceEvent[] = [];
    if (how === 'left') {
      this.replicas.delete(replicaId);
      for (const [peerId, entry] of replica.peers) {
        if (isLive(entry.status)) events.push(...this.recompute(peerId, now, { kind: 'replica-left', replicaId }));
      }
      return { events, replicasLost: [] };
    }
    const peerIds: string[] = [];
    for (const [peerId, entry] of replica.peers) {
      if (!isLive(entry.status)) continue;
      peerIds.push(peerId);
      replica.peers.set(peerId, { ...entry, status: 'lost', reason: 'replica-lost', since: now });
      events.push(...this.recompute(peerId, now, { kind: 'replica-lost', replicaId }));
    }
    this.replicas.delete(replicaId);
    return { events, replicasLost: [{ replica: { ...replica.info }, peerIds }] };
  }

  /**
   * Replicas we knew that Redis no longer has, though we never saw them reaped (Redis restarted
   * empty, or the stream was trimmed past us): each gets `probationMs` to register again.
   */
  putOnProbation(replicaIds: Iterable<string>, now: number): void {
    for (const id of replicaIds) {
      const r = this.replicas.get(id);
      if (r && id !== this.selfId && r.probationUntil === undefined) r.probationUntil = now + this.options.probationMs;
    }
  }

  /** Fires what is due: hop graces that ran out, probations that ended, retention. */
  tick(now: number): ViewChange {
    const events: ClusterPresenceEvent[] = [];
    const replicasLost: ReplicaLoss[] = [];
    for (const [id, r] of [...this.replicas]) {
      if (r.probationUntil !== undefined && r.probationUntil <= now) {
        const change = this.removeReplica(id, 'reaped', now);
        events.push(...change.events);
        replicasLost.push(...change.replicasLost);
      }
    }
    for (const peerId of [...this.pending]) {
      const rec = this.records.get(peerId);
      if (!rec || rec.state !== 'pending') {
        this.pending.delete(peerId);
      } else if (rec.pendingUntil !== undefined && rec.pendingUntil <= now) {
        this.pending.delete(peerId);
        rec.state = 'departed';
        rec.departedAs = 'lost';
        rec.since = now;
        rec.pendingUntil = undefined;
        events.push(this.event('lost', peerId, now, rec.replicaId, rec.reason));
      }
    }
    // The whole table is walked at most once a second, not on every tick.
    if (now >= this.nextPurgeAt) {
      this.nextPurgeAt = now + 1000;
      this.purge(now);
    }
    return { events, replicasLost };
  }

  // ---- internals ------------------------------------------------------------------------------

  private replicaOrStub(replicaId: string, startedAt: number): ReplicaState {
    let replica = this.replicas.get(replicaId);
    if (!replica) {
      const slash = replicaId.lastIndexOf('/');
      this.upsertReplica({ id: replicaId, nodeId: slash > 0 ? replicaId.slice(0, slash) : replicaId, metadata: {}, startedAt });
      replica = this.replicas.get(replicaId)!;
    }
    return replica;
  }

  private liveEntries(peerId: string): Array<[string, PeerEntry]> {
    const live: Array<[string, PeerEntry]> = [];
    for (const [id, r] of this.replicas) {
      const e = r.peers.get(peerId);
      if (e && isLive(e.status)) live.push([id, e]);
    }
    return live;
  }

  private recompute(peerId: string, now: number, cause: Cause): ClusterPresenceEvent[] {
    const live = this.liveEntries(peerId);
    let rec = this.records.get(peerId);
    if (live.length > 0) {
      const metadata = live[0][1].metadata;
      if (!rec) {
        rec = { state: 'present', since: now, metadata };
        this.records.set(peerId, rec);
        return [this.event('joined', peerId, now, cause.replicaId)];
      }
      rec.metadata = metadata;
      if (rec.state === 'pending') {
        // It hopped: reconnected to some replica within the grace. No loss, no join.
        rec.state = 'present';
        rec.pendingUntil = undefined;
        rec.reason = undefined;
        return [];
      }
      if (rec.state === 'departed') {
        Object.assign(rec, { state: 'present', since: now, departedAs: undefined, reason: undefined, replicaId: undefined });
        return [this.event('joined', peerId, now, cause.replicaId)];
      }
      return [];
    }
    if (!rec || rec.state === 'departed') return [];
    if (cause.kind === 'update') {
      const entry = this.replicas.get(cause.replicaId)?.peers.get(peerId);
      if (entry?.status === 'left') return this.depart(rec, peerId, 'left', now, cause.replicaId);
      this.awaitHop(rec, peerId, now, cause.replicaId, entry?.reason);
      return [];
    }
    if (cause.kind === 'replica-left') {
      this.awaitHop(rec, peerId, now, cause.replicaId, 'replica-left');
      return [];
    }
    // The replica holding it died. A loss already pending elsewhere keeps its own reason and grace.
    if (rec.state === 'pending') return [];
    return this.depart(rec, peerId, 'lost', now, cause.replicaId, 'replica-lost');
  }

  /** No live replica has the peer: it may be reconnecting elsewhere. A grace already running keeps its reason and end. */
  private awaitHop(rec: PeerRecord, peerId: string, now: number, replicaId: string, reason: LossReason | undefined): void {
    if (rec.state !== 'present') return;
    rec.state = 'pending';
    rec.pendingUntil = now + this.options.hopGraceMs;
    this.pending.add(peerId);
    rec.reason = reason;
    rec.replicaId = replicaId;
  }

  private depart(rec: PeerRecord, peerId: string, as: 'lost' | 'left', now: number, replicaId: string, reason?: LossReason): ClusterPresenceEvent[] {
    Object.assign(rec, { state: 'departed', departedAs: as, since: now, reason, replicaId, pendingUntil: undefined });
    return [this.event(as, peerId, now, replicaId, reason)];
  }

  private event(type: ClusterPresenceEvent['type'], peerId: string, at: number, replicaId?: string, reason?: LossReason): ClusterPresenceEvent {
    const event: ClusterPresenceEvent = { type, peer: this.snapshot(peerId), at: Math.round(at) };
    if (type === 'lost') event.reason = reason;
    if (replicaId !== undefined) event.replicaId = replicaId;
    return event;
  }

  private snapshot(peerId: string): ClusterPeerInfo {
    const rec = this.records.get(peerId)!;
    const replicas: ClusterPeerReplica[] = [];
    let best: PeerStatus | undefined;
    for (const [replicaId, r] of this.replicas) {
      const e = r.peers.get(peerId);
      if (!e) continue;
      replicas.push({ replicaId, status: e.status, direction: e.direction, address: e.address, since: e.since });
      if (e.status === 'alive' || (e.status === 'suspect' && best !== 'alive')) best = e.status;
    }
    const status: PeerStatus = best ?? (rec.state === 'pending' ? 'suspect' : rec.state === 'departed' ? rec.departedAs! : 'lost');
    return { id: peerId, status, metadata: { ...rec.metadata }, replicas, since: Math.round(rec.since) };
  }

  /** Departed peers and entries leave the table after the retention. */
  private purge(now: number): void {
    const cutoff = now - this.options.retentionMs;
    for (const r of this.replicas.values()) {
      for (const [peerId, e] of r.peers) if (!isLive(e.status) && e.since <= cutoff) r.peers.delete(peerId);
    }
    for (const [peerId, rec] of this.records) {
      if (rec.state === 'departed' && rec.since <= cutoff) this.records.delete(peerId);
    }
  }
}
