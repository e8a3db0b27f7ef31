import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { auditTime, Subject, type Observable } from 'rxjs';
import { HEARTBEAT_RESOLVED_OPTIONS } from '../common/heartbeat.constants.js';
import * as messages from '../common/heartbeat.messages.js';
import { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import type {
  LossReason, PeerInfo, PeerStats, PeerStatus, PresenceEvent, PresenceEventType,
} from '../interfaces/presence.interface.js';
import { isDeparture } from '../link/close-cause.js';
import type { Admission, LinkReporter, LinkView } from '../link/link-context.js';
import type { ResolvedHeartbeatOptions } from '../options/resolved-options.js';
import { Departures } from './departures.js';
import { peerStatus, presenceTransition, resumable } from './peer-status.js';

export { peerStatus, presenceTransition, resumable } from './peer-status.js';

/** Coalescing window of `changes$` (and so of `PresenceService.peers$`). */
const CHANGES_AUDIT_MS = 10;
/** Replaced incarnations remembered per nodeId (refused while their successor is connected). */
const MAX_SUPERSEDED = 16;

interface PeerEntry {
  id: string;
  /** The incarnation the entry's links belong to. */
  incarnation: string;
  /** Incarnations of this nodeId that a newer one replaced, newest last. */
  superseded: string[];
  /** Set while the peer has no link but may resume: cancels the window's end. */
  cancelResume?: () => void;
  /** Open links, oldest first; a Set, so a link leaves in O(1). */
  links: Set<LinkView>;
  /** The newest link, open or not: where direction, address and metadata come from. */
  latest: LinkView;
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
 * The peer table (internal): links report to it, `PresenceService` is its public face.
 *
 * Keyed by the peer's nodeId. A peer may be reached over several links (it connected to us and
 * we to it, or a reconnect raced a stale link): it is alive while any of them is, and events
 * describe the peer, not a link. One nodeId and one incarnation are one peer; a new incarnation
 * replaces the old (a restart), and the replaced one is refused while its successor is
 * connected, so two processes that share a nodeId never flap. A lost or left peer stays for
 * `presence.retainMs` (at most `presence.maxRetained` of them, the oldest dropped first), or
 * until it joins again; expiring one is O(1), with one timer for the next expiry.
 */
@Injectable()
export class PeerTable implements LinkReporter, OnApplicationShutdown {
  private readonly entries = new Map<string, PeerEntry>();
  private readonly departures = new Departures();
  private readonly events = new Subject<PresenceEvent>();
  private readonly changes = new Subject<void>();
  private readonly rttSamples = new Subject<number>();
  private readonly shutdownBegan = new Subject<void>();
  private cancelExpiry: (() => void) | undefined;
  /** After application shutdown: links still closing report here, but nothing is scheduled any more. */
  private stopped = false;

  /** Every presence event, hot; never errors. */
  readonly events$: Observable<PresenceEvent> = this.events.asObservable();
  /** Every raw round trip measured on any link (for the RTT histogram); `PeerInfo.rttMs` is smoothed. */
  readonly rttSamples$: Observable<number> = this.rttSamples.asObservable();
  /** Fires after changes of the table (status, membership, expiry), coalesced: a burst of joins is one change. */
  readonly changes$: Observable<void>;
  /**
   * Fires when our server begins a graceful stop, before its goodbyes: a pure microservice's
   * `app.close()` closes the transport before any lifecycle hook runs, and cluster presence must
   * not publish those departures as its peers'.
   */
  readonly shuttingDown$: Observable<void> = this.shutdownBegan.asObservable();

  private readonly resumeWindowMs: number;
  private readonly limits: ResolvedHeartbeatOptions['presence'];

  constructor(
    @Inject(HeartbeatTicker) private readonly clock: HeartbeatTicker,
    @Inject(HEARTBEAT_RESOLVED_OPTIONS) options: Pick<ResolvedHeartbeatOptions, 'heartbeat' | 'presence'>,
  ) {
    this.resumeWindowMs = options.heartbeat.resumeWindowMs;
    this.limits = options.presence;
    this.changes$ = this.changes.pipe(auditTime(CHANGES_AUDIT_MS, clock.rxScheduler));
  }

  peers(): PeerInfo[] {
    const out: PeerInfo[] = [];
    for (const entry of this.entries.values()) out.push(this.snapshot(entry));
    return out;
  }

  get(peerId: string): PeerInfo | undefined {
    const entry = this.entries.get(peerId);
    return entry && this.snapshot(entry);
  }

  status(peerId: string): PeerStatus | undefined {
    return this.entries.get(peerId)?.status;
  }

  /** Departed peers retained now. */
  get retained(): number {
    return this.departures.size;
  }

  admit(claim: { peerId: string; incarnation: string; address: string }): Admission | undefined {
    const entry = this.entries.get(claim.peerId);
    if (!entry) return undefined;
    const connected = entry.links.size > 0 || entry.cancelResume !== undefined;
    if (connected && claim.incarnation !== entry.incarnation && entry.superseded.includes(claim.incarnation)) {
      return { reason: 'superseded', why: messages.supersededIncarnation(entry.id, entry.latest.address, claim.address) };
    }
    if (claim.incarnation === entry.incarnation && entry.links.size >= this.limits.maxLinksPerPeer) {
      return { reason: 'protocol-error', why: messages.tooManyLinks(entry.id, this.limits.maxLinksPerPeer) };
    }
    return undefined;
  }

  opened(link: LinkView): void {
    let entry = this.entries.get(link.peerId);
    if (!entry) {
      entry = {
        id: link.peerId, incarnation: link.incarnation, superseded: [], links: new Set(), latest: link, status: undefined,
        saidGoodbye: false, joins: 0, closedStats: zeroStats(),
      };
      this.entries.set(link.peerId, entry);
    }
    if (entry.incarnation !== link.incarnation && (entry.links.size > 0 || entry.cancelResume)) this.replace(entry);
    entry.cancelResume?.();
    entry.cancelResume = undefined;
    if (entry.links.size === 0) {
      if (entry.incarnation !== link.incarnation) this.supersede(entry, link.incarnation);
      entry.joins++;
      entry.saidGoodbye = false;
      entry.lossReason = undefined;
      entry.departedAt = undefined;
      this.departures.delete(entry.id);
    }
    entry.links.add(link);
    entry.latest = link;
    this.update(entry);
  }

  changed(link: LinkView): void {
    const entry = this.entries.get(link.peerId);
    if (entry?.links.has(link)) this.update(entry);
  }

  shuttingDown(): void {
    this.shutdownBegan.next();
  }

  closed(link: LinkView): void {
    const entry = this.entries.get(link.peerId);
    if (!entry || !entry.links.delete(link)) return;
    addStats(entry.closedStats, link.stats);
    if (entry.links.size === 0) {
      // A departed peer is remembered as plain data, not as its link (which holds the socket
      // and any half-received frame).
      entry.latest = detached(link);
      entry.saidGoodbye = link.cause !== undefined && isDeparture(link.cause);
      entry.lossReason = entry.saidGoodbye ? undefined : (link.cause as LossReason);
      if (this.resumeWindowMs > 0 && resumable(link.cause)) this.openResumeWindow(entry);
    }
    this.update(entry);
  }

  rttSampled(_link: LinkView, rttMs: number): void {
    // Every pong: skipped when nobody listens (no metrics), as Subject.next costs a closure per call.
    if (this.rttSamples.observed) this.rttSamples.next(rttMs);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) entry.cancelResume?.();
    this.cancelExpiry?.();
    this.cancelExpiry = undefined;
    this.events.complete();
    this.changes.complete();
    this.rttSamples.complete();
  }

  /** Suspect for the window; lost with the link's reason when it ends without the same incarnation back. */
  private openResumeWindow(entry: PeerEntry): void {
    if (this.stopped) return;
    entry.cancelResume = this.clock.after(this.resumeWindowMs, () => {
      entry.cancelResume = undefined;
      if (entry.links.size === 0) this.update(entry);
    });
  }

  /**
   * A new incarnation of a known nodeId: the old process is gone (or is an impostor). Its peer
   * is lost (`replaced`) at once and its links are ended, instead of masking its death; the old
   * incarnation is refused from now on while the new one is connected.
   */
  private replace(entry: PeerEntry): void {
    const old = [...entry.links];
    entry.links = new Set();
    entry.cancelResume?.();
    entry.cancelResume = undefined;
    for (const link of old) addStats(entry.closedStats, link.stats);
    entry.saidGoodbye = false;
    entry.lossReason = 'replaced';
    this.update(entry);
    for (const link of old) link.terminate('replaced', messages.replacedByNewIncarnation()); // their close reports are ignored: no longer the entry's
  }

  /** The entry's incarnation becomes `next`; the one it had goes on the superseded list. */
  private supersede(entry: PeerEntry, next: string): void {
    entry.superseded = entry.superseded.filter((inc) => inc !== next);
    entry.superseded.push(entry.incarnation);
    if (entry.superseded.length > MAX_SUPERSEDED) entry.superseded.shift();
    entry.incarnation = next;
  }

  private update(entry: PeerEntry): void {
    const now = this.clock.now();
    const next = peerStatus(entry.links, entry.saidGoodbye, entry.cancelResume !== undefined);
    const type = presenceTransition(entry.status, next);
    entry.status = next;
    if ((next === 'lost' || next === 'left') && entry.departedAt === undefined) this.depart(entry, now);
    if (type) this.emit(type, entry, now);
    this.changes.next();
  }

  private emit(type: PresenceEventType, entry: PeerEntry, at: number): void {
    const event: PresenceEvent = { type, peer: this.snapshot(entry), at: Math.round(at) };
    if (type === 'lost') event.reason = entry.lossReason;
    this.events.next(event);
  }

  /** Retained for retainMs, or until maxRetained newer departures push it out. */
  private depart(entry: PeerEntry, now: number): void {
    entry.departedAt = now;
    this.departures.add(entry.id, now);
    while (this.departures.size > this.limits.maxRetained) this.forget(this.departures.oldest()!.id);
    this.scheduleExpiry();
  }

  private forget(id: string): void {
    this.departures.delete(id);
    this.entries.delete(id);
  }

  /** One timer, for the oldest departure's expiry. */
  private scheduleExpiry(): void {
    if (this.cancelExpiry || this.stopped) return;
    const oldest = this.departures.oldest();
    if (!oldest) return;
    const delay = Math.max(0, oldest.at + this.limits.retainMs - this.clock.now());
    this.cancelExpiry = this.clock.after(delay, () => {
      this.cancelExpiry = undefined;
      this.expire();
    });
  }

  private expire(): void {
    const now = this.clock.now();
    let removed = false;
    for (let oldest = this.departures.oldest(); oldest && now - oldest.at >= this.limits.retainMs; oldest = this.departures.oldest()) {
      this.forget(oldest.id);
      removed = true;
    }
    if (removed) this.changes.next();
    this.scheduleExpiry();
  }

  private snapshot(entry: PeerEntry): PeerInfo {
    let first: LinkView | undefined;
    const stats = { ...entry.closedStats };
    let lastSeenAt = entry.latest.lastHeardAt;
    let rttMs: number | undefined;
    for (const l of entry.links) {
      first ??= l;
      addStats(stats, l.stats);
      lastSeenAt = Math.max(lastSeenAt, l.lastHeardAt);
      rttMs ??= l.rttMs;
    }
    const link = first ?? entry.latest;
    rttMs = link.rttMs ?? rttMs;
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
}

/** A closed link's last state, without the link. */
function detached(link: LinkView): LinkView {
  return {
    peerId: link.peerId, direction: link.direction, address: link.address, managed: link.managed,
    metadata: link.metadata, incarnation: link.incarnation, status: link.status, connectedAt: link.connectedAt,
    lastHeardAt: link.lastHeardAt, rttMs: link.rttMs, stats: { ...link.stats }, cause: link.cause,
    terminate: () => undefined,
  };
}

function addStats(into: PeerStats, from: Readonly<PeerStats>): void {
  into.pingsSent += from.pingsSent;
  into.pongsReceived += from.pongsReceived;
  into.suspectCount += from.suspectCount;
  into.controlBytesSent += from.controlBytesSent;
  into.controlBytesReceived += from.controlBytesReceived;
}
