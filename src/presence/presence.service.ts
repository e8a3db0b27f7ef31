import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import {
  auditTime, concat, defer, distinctUntilChanged, EMPTY, filter, map, merge, of, Subject, type Observable,
} from 'rxjs';
import { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import { peerStatus, presenceTransition } from '../detector/peer-state.js';
import { DEPARTED_RETENTION_MS } from '../heartbeat.constants.js';
import type {
  LossReason, PeerInfo, PeerStats, PeerStatus, PresenceEvent, PresenceEventType,
} from '../interfaces/presence.interface.js';
import { isDeparture } from '../link/close-cause.js';
import type { LinkHost } from '../link/link-host.js';
import type { PeerLink } from '../link/peer-link.js';

/** Coalesces `peers$` updates: a burst of joins makes one table, not one per join. */
const PEERS_AUDIT_MS = 10;

interface PeerEntry {
  id: string;
  /** Open links, oldest first. */
  links: PeerLink[];
  /** The newest link, open or not: where direction, address and metadata come from. */
  latest: PeerLink;
  /** Undefined only between creation and the first update. */
  status: PeerStatus | undefined;
  saidGoodbye: boolean;
  lossReason?: LossReason;
  departedAt?: number;
  joins: number;
  /** Counters of links already closed. */
  closedStats: PeerStats;
}

const zeroStats = (): PeerStats => ({
  pingsSent: 0, pongsReceived: 0, suspectCount: 0, reconnects: 0, controlBytesSent: 0, controlBytesReceived: 0,
});

/**
 * The live peer table, inbound and outbound alike, keyed by the peer's nodeId.
 *
 * A peer may be reached over several links (it connected to us and we to it, or a reconnect
 * raced a stale link): it is alive while any of them is, and events describe the peer, not a
 * link. A lost or left peer stays in the table for 60 s or until it joins again.
 */
@Injectable()
export class PresenceService implements LinkHost, OnApplicationShutdown {
  private readonly table = new Map<string, PeerEntry>();
  private readonly events = new Subject<PresenceEvent>();
  private readonly changes = new Subject<void>();
  private nextPurgeAt = 0;

  /** Every presence event, hot; never errors. */
  readonly events$: Observable<PresenceEvent> = this.events.asObservable();
  /** The current table on subscription, then again after each change (coalesced over 10 ms). */
  readonly peers$: Observable<PeerInfo[]> = defer(() =>
    merge(of(undefined), this.changes.pipe(auditTime(PEERS_AUDIT_MS)))).pipe(map(() => this.peers()));

  constructor(@Inject(HeartbeatTicker) private readonly detector: HeartbeatTicker) {}

  peers(): PeerInfo[] {
    this.purge(this.detector.now());
    return [...this.table.values()].map((e) => this.snapshot(e));
  }

  get(peerId: string): PeerInfo | undefined {
    this.purge(this.detector.now());
    const entry = this.table.get(peerId);
    return entry && this.snapshot(entry);
  }

  /** True only while the peer is `alive` or `suspect`. */
  isAlive(peerId: string): boolean {
    const status = this.table.get(peerId)?.status;
    return status === 'alive' || status === 'suspect';
  }

  /** The peer's distinct statuses: its current one first when it is known. */
  watch(peerId: string): Observable<PeerStatus> {
    return defer(() => {
      const current = this.get(peerId);
      const updates = this.events$.pipe(filter((e) => e.peer.id === peerId), map((e) => e.peer.status));
      return concat(current ? of(current.status) : EMPTY, updates);
    }).pipe(distinctUntilChanged());
  }

  linkOpened(link: PeerLink): void {
    const now = this.detector.now();
    this.purge(now);
    let entry = this.table.get(link.peerId);
    if (!entry) {
      entry = {
        id: link.peerId, links: [], latest: link, status: undefined, saidGoodbye: false, joins: 0, closedStats: zeroStats(),
      };
      this.table.set(link.peerId, entry);
    }
    if (entry.links.length === 0) {
      entry.joins++;
      entry.saidGoodbye = false;
      entry.lossReason = undefined;
      entry.departedAt = undefined;
    }
    entry.links.push(link);
    entry.latest = link;
    this.update(entry, now);
  }

  linkChanged(link: PeerLink): void {
    const entry = this.table.get(link.peerId);
    if (entry?.links.includes(link)) this.update(entry, this.detector.now());
  }

  linkClosed(link: PeerLink): void {
    const entry = this.table.get(link.peerId);
    if (!entry || !entry.links.includes(link)) return;
    entry.links = entry.links.filter((l) => l !== link);
    addStats(entry.closedStats, link.stats);
    if (entry.links.length === 0) {
      entry.latest = link;
      entry.saidGoodbye = link.cause !== undefined && isDeparture(link.cause);
      entry.lossReason = entry.saidGoodbye ? undefined : (link.cause as LossReason);
    }
    this.update(entry, this.detector.now());
  }

  onApplicationShutdown(): void {
    this.events.complete();
    this.changes.complete();
  }

  private update(entry: PeerEntry, now: number): void {
    const next = peerStatus(entry.links, entry.saidGoodbye);
    const type = presenceTransition(entry.status, next);
    entry.status = next;
    if (next === 'lost' || next === 'left') entry.departedAt = now;
    if (type) this.emit(type, entry, now);
    this.changes.next();
  }

  private emit(type: PresenceEventType, entry: PeerEntry, at: number): void {
    const event: PresenceEvent = { type, peer: this.snapshot(entry), at: Math.round(at) };
    if (type === 'lost') event.reason = entry.lossReason;
    this.events.next(event);
  }

  private snapshot(entry: PeerEntry): PeerInfo {
    const link = entry.links[0] ?? entry.latest;
    const stats = { ...entry.closedStats };
    let lastSeenAt = entry.latest.lastHeardAt;
    let rttMs = link.rttMs;
    for (const l of entry.links) {
      addStats(stats, l.stats);
      lastSeenAt = Math.max(lastSeenAt, l.lastHeardAt);
      rttMs ??= l.rttMs;
    }
    stats.reconnects = Math.max(0, entry.joins - 1);
    const info: PeerInfo = {
      id: entry.id,
      status: entry.status ?? 'alive',
      direction: link.direction,
      managed: link.managed,
      address: link.address,
      metadata: { ...link.metadata },
      connectedAt: Math.round(link.connectedAt),
      lastSeenAt: Math.round(lastSeenAt),
      stats,
    };
    if (rttMs !== undefined) info.rttMs = rttMs;
    return info;
  }

  /** Drops departed peers after their retention; at most once a second. */
  private purge(now: number): void {
    if (now < this.nextPurgeAt) return;
    this.nextPurgeAt = now + 1000;
    let removed = false;
    for (const [id, entry] of this.table) {
      if (entry.departedAt !== undefined && now - entry.departedAt > DEPARTED_RETENTION_MS) {
        this.table.delete(id);
        removed = true;
      }
    }
    if (removed) this.changes.next();
  }
}

function addStats(into: PeerStats, from: PeerStats): void {
  into.pingsSent += from.pingsSent;
  into.pongsReceived += from.pongsReceived;
  into.suspectCount += from.suspectCount;
  into.controlBytesSent += from.controlBytesSent;
  into.controlBytesReceived += from.controlBytesReceived;
}
