import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { auditTime, Subject, type Observable } from 'rxjs';
import type { LinkStatus } from '../detector/failure-detector.js';
import { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import { DEPARTED_RETENTION_MS, HEARTBEAT_RESOLVED_OPTIONS } from '../common/heartbeat.constants.js';
import * as messages from '../common/heartbeat.messages.js';
import type { ResolvedHeartbeatOptions } from '../options/resolved-options.js';
import type {
  LossReason, PeerInfo, PeerStats, PeerStatus, PresenceEvent, PresenceEventType,
} from '../interfaces/presence.interface.js';
import { isDeparture, type CloseCause } from '../link/close-cause.js';
import type { LinkReporter, LinkView } from '../link/link-context.js';

/**
 * A peer's status from its open links: alive while any link is alive, suspect while all are
 * suspect, and when none is left, `left` if it said goodbye, else `lost`.
 */
export function peerStatus(links: Iterable<{ status: LinkStatus }>, saidGoodbye: boolean, resuming = false): PeerStatus {
  let any = false;
  for (const link of links) {
    if (link.status === 'alive') return 'alive';
    any = true;
  }
  // With no link left, a peer inside its resume window may still come back: suspect, not lost.
  if (any || resuming) return 'suspect';
  return saidGoodbye ? 'left' : 'lost';
}

/** Loss reasons a resume window forgives: the connection broke, the peer did not say it was leaving or hung. */
export function resumable(cause: CloseCause | undefined): cause is 'connection-reset' | 'closed-without-goodbye' {
  return cause === 'connection-reset' || cause === 'closed-without-goodbye';
}

/** The event a status change produces, if any. `previous` is undefined for a peer never seen. */
export function presenceTransition(previous: PeerStatus | undefined, next: PeerStatus): PresenceEventType | undefined {
  if (previous === next) return undefined;
  switch (next) {
    case 'alive':
      return previous === 'suspect' ? 'recovered' : 'joined';
    case 'suspect':
      // Every new link starts alive, so only an alive peer can become suspect.
      return previous === 'alive' ? 'suspect' : 'joined';
    case 'lost':
      return previous === 'left' ? undefined : 'lost';
    case 'left':
      return previous === 'lost' ? undefined : 'left';
  }
}

/** Coalescing window of `changes$` (and so of `PresenceService.peers$`). */
const CHANGES_AUDIT_MS = 10;

interface PeerEntry {
  id: string;
  /** The incarnation the entry's links belong to. */
  incarnation: string;
  /** Set while the peer has no link but may resume: cancels the window's end. */
  cancelResume?: () => void;
  /** Open links, oldest first. */
  links: LinkView[];
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
 * describe the peer, not a link. A lost or left peer stays for 60 s, or until it joins again;
 * its expiry is a change like any other (one timer for the earliest expiry, never one per peer).
 */
@Injectable()
export class PeerTable implements LinkReporter, OnApplicationShutdown {
  private readonly entries = new Map<string, PeerEntry>();
  private readonly events = new Subject<PresenceEvent>();
  private readonly changes = new Subject<void>();
  private readonly rttSamples = new Subject<number>();
  private cancelExpiry: (() => void) | undefined;
  /** After application shutdown: links still closing report here, but nothing is scheduled any more. */
  private stopped = false;

  /** Every presence event, hot; never errors. */
  readonly events$: Observable<PresenceEvent> = this.events.asObservable();
  /** Every raw round trip measured on any link (for the RTT histogram); `PeerInfo.rttMs` is smoothed. */
  readonly rttSamples$: Observable<number> = this.rttSamples.asObservable();
  /** Fires after changes of the table (status, membership, expiry), coalesced: a burst of joins is one change. */
  readonly changes$: Observable<void>;

  private readonly resumeWindowMs: number;

  constructor(
    @Inject(HeartbeatTicker) private readonly clock: HeartbeatTicker,
    @Inject(HEARTBEAT_RESOLVED_OPTIONS) options: Pick<ResolvedHeartbeatOptions, 'heartbeat'>,
  ) {
    this.resumeWindowMs = options.heartbeat.resumeWindowMs;
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

  opened(link: LinkView): void {
    let entry = this.entries.get(link.peerId);
    if (!entry) {
      entry = {
        id: link.peerId, incarnation: link.incarnation, links: [], latest: link, status: undefined, saidGoodbye: false,
        joins: 0, closedStats: zeroStats(),
      };
      this.entries.set(link.peerId, entry);
    }
    if (entry.incarnation !== link.incarnation && (entry.links.length > 0 || entry.cancelResume)) this.replace(entry);
    entry.cancelResume?.();
    entry.cancelResume = undefined;
    if (entry.links.length === 0) {
      entry.incarnation = link.incarnation;
      entry.joins++;
      entry.saidGoodbye = false;
      entry.lossReason = undefined;
      entry.departedAt = undefined;
    }
    entry.links.push(link);
    entry.latest = link;
    this.update(entry);
  }

  changed(link: LinkView): void {
    const entry = this.entries.get(link.peerId);
    if (entry?.links.includes(link)) this.update(entry);
  }

  closed(link: LinkView): void {
    const entry = this.entries.get(link.peerId);
    if (!entry || !entry.links.includes(link)) return;
    entry.links = entry.links.filter((l) => l !== link);
    addStats(entry.closedStats, link.stats);
    if (entry.links.length === 0) {
      // A departed peer is remembered for 60 s: as plain data, not as its link (which holds the
      // socket and any half-received frame, up to maxFrameBytes).
      entry.latest = detached(link);
      entry.saidGoodbye = link.cause !== undefined && isDeparture(link.cause);
      entry.lossReason = entry.saidGoodbye ? undefined : (link.cause as LossReason);
      if (this.resumeWindowMs > 0 && resumable(link.cause)) this.openResumeWindow(entry);
    }
    this.update(entry);
  }

  /** Suspect for the window; lost with the link's reason when it ends without the same incarnation back. */
  private openResumeWindow(entry: PeerEntry): void {
    if (this.stopped) return;
    entry.cancelResume = this.clock.after(this.resumeWindowMs, () => {
      entry.cancelResume = undefined;
      if (entry.links.length === 0) this.update(entry);
    });
  }

  /**
   * A new incarnation of a known nodeId: the old process is gone (or is an impostor). Its peer
   * is lost (`replaced`) at once and its links are ended, instead of masking its death.
   */
  private replace(entry: PeerEntry): void {
    const old = entry.links;
    entry.links = [];
    entry.cancelResume?.();
    entry.cancelResume = undefined;
    for (const link of old) addStats(entry.closedStats, link.stats);
    entry.saidGoodbye = false;
    entry.lossReason = 'replaced';
    this.update(entry);
    for (const link of old) link.terminate('replaced', messages.replacedByNewIncarnation()); // their close reports are ignored: no longer the entry's
  }

  rttSampled(_link: LinkView, rttMs: number): void {
    this.rttSamples.next(rttMs);
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

  private update(entry: PeerEntry): void {
    const now = this.clock.now();
    const next = peerStatus(entry.links, entry.saidGoodbye, entry.cancelResume !== undefined);
    const type = presenceTransition(entry.status, next);
    entry.status = next;
    if ((next === 'lost' || next === 'left') && entry.departedAt === undefined) {
      entry.departedAt = now;
      this.scheduleExpiry();
    }
    if (type) this.emit(type, entry, now);
    this.changes.next();
  }

  private emit(type: PresenceEventType, entry: PeerEntry, at: number): void {
    const event: PresenceEvent = { type, peer: this.snapshot(entry), at: Math.round(at) };
    if (type === 'lost') event.reason = entry.lossReason;
    this.events.next(event);
  }

  /** One timer, for the earliest departed peer's expiry. */
  private scheduleExpiry(): void {
    if (this.cancelExpiry || this.stopped) return;
    let earliest = Infinity;
    for (const entry of this.entries.values()) {
      if (entry.departedAt !== undefined) earliest = Math.min(earliest, entry.departedAt);
    }
    if (earliest === Infinity) return;
    const delay = Math.max(0, earliest + DEPARTED_RETENTION_MS - this.clock.now());
    this.cancelExpiry = this.clock.after(delay, () => {
      this.cancelExpiry = undefined;
      this.expire();
    });
  }

  private expire(): void {
    const now = this.clock.now();
    let removed = false;
    for (const [id, entry] of this.entries) {
      if (entry.departedAt !== undefined && now - entry.departedAt >= DEPARTED_RETENTION_MS) {
        this.entries.delete(id);
        removed = true;
      }
    }
    if (removed) this.changes.next();
    this.scheduleExpiry();
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
