import type { Logger } from '@nestjs/common';
import type { Authenticator } from './authenticator.js';
import { LimitedLog } from '../common/limited-log.js';
import type { DetectionRule, LinkStatus } from '../detector/failure-detector.js';
import { linkDetector, type LinkDetector } from '../detector/link-detector.js';
import type { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import type { ResolvedHeartbeatOptions } from '../options/resolved-options.js';
import type { CloseCause, PeerStats } from '../interfaces/presence.interface.js';

/**
 * What a peer table reads of one link. Read-only: only the link changes its state. Anything
 * that can say "this peer is reachable over this path, alive or suspect" can be a link to the
 * table, a socket today, another replica's report tomorrow.
 */
export interface LinkView {
  /** The peer's nodeId once the handshake is done. */
  readonly peerId: string;
  readonly direction: 'inbound' | 'outbound';
  readonly address: string;
  /** False for a stock ClientTCP (no heartbeats). */
  readonly managed: boolean;
  readonly metadata: Readonly<Record<string, string>>;
  /** The peer's incarnation from its handshake ('' for a stock client): one nodeId and one incarnation are one peer. */
  readonly incarnation: string;
  readonly status: LinkStatus;
  readonly connectedAt: number;
  readonly lastHeardAt: number;
  readonly rttMs: number | undefined;
  readonly stats: Readonly<PeerStats>;
  /** Set once the link ends (or is ending): why. */
  readonly cause: CloseCause | undefined;
  /** Ends the link at once (the table does so when a new incarnation replaces its peer). */
  terminate(cause: CloseCause, why?: string): void;
}

/** Why the table will not take a link (before the welcome, so nothing changes in it). */
export interface Admission {
  reason: 'superseded' | 'protocol-error';
  why: string;
}

/** Receives a link's life events; the peer table implements it. */
export interface LinkReporter {
  /**
   * Before a link opens: undefined when the table takes it; else why not (an incarnation that a
   * newer one of the same nodeId replaced; too many links of one nodeId).
   */
  admit(claim: { peerId: string; incarnation: string; address: string }): Admission | undefined;
  /** The handshake completed (or a stock client sent its first data frame). */
  opened(link: LinkView): void;
  /** The link's status (alive/suspect) changed. */
  changed(link: LinkView): void;
  /** An opened link closed; `link.cause` says why. */
  closed(link: LinkView): void;
  /** A ping/pong round trip measured on the link (raw, before smoothing). */
  rttSampled(link: LinkView, rttMs: number): void;
  /** Our server began a graceful stop: the goodbyes that follow are this process leaving, not its peers. */
  shuttingDown(): void;
}

/** What the server or client that owns a link hears of it. */
export interface LinkOwner {
  /** Outbound: the socket connected and the hello went out. */
  linkConnected?(link: LinkView): void;
  /** The handshake completed (or a stock client sent its first data frame). */
  linkOpened?(link: LinkView): void;
  /** Outbound: the server is draining this link (send nothing new on it). */
  linkDraining?(link: LinkView): void;
  /** The link's socket has closed; `link.cause` is final. */
  linkClosed(link: LinkView): void;
}

/** What every link of one server or client shares. */
export interface LinkContext {
  nodeId: string;
  incarnation: string;
  metadata: Record<string, string>;
  heartbeat: ResolvedHeartbeatOptions['heartbeat'];
  rule: DetectionRule;
  /** A fresh link's detector (`heartbeat.detector` under `rule`); immutable, so every link starts from this one. */
  detector: LinkDetector;
  /** Inbound (a server's links): the fastest a peer may ping; sent in the welcome, enforced with strikes. */
  minPingIntervalMs: number | undefined;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  /** A peer with more than this queued and unread is cut. */
  maxQueuedBytes: number;
  keepAlive: ResolvedHeartbeatOptions['keepAlive'];
  clock: Pick<HeartbeatTicker, 'now' | 'blockedSince' | 'after' | 'add' | 'remove' | 'wake' | 'putOff'>;
  reporter: LinkReporter;
  logger: Logger;
  /** Lines caused by peers, rate-limited per kind. */
  peerLog: LimitedLog;
  /** Logs `message` once for all the links of this server or client. */
  warnOnce(key: string, message: string): void;
}

export function createLinkContext(
  options: ResolvedHeartbeatOptions, clock: LinkContext['clock'], reporter: LinkReporter, logger: Logger,
): LinkContext {
  const warned = new Set<string>();
  return {
    nodeId: options.nodeId,
    incarnation: options.incarnation,
    metadata: options.metadata,
    heartbeat: options.heartbeat,
    rule: options.heartbeat.rule,
    detector: linkDetector(options.heartbeat.detector, options.heartbeat.rule, options.heartbeat.adaptiveLevels),
    minPingIntervalMs: options.server?.minPingIntervalMs,
    handshakeTimeoutMs: options.limits.handshakeTimeoutMs,
    maxFrameBytes: options.limits.maxFrameBytes,
    // Replies to a peer that stopped reading queue here; past this the peer is cut.
    maxQueuedBytes: Math.max(64 * 1024 * 1024, 4 * options.limits.maxFrameBytes),
    keepAlive: options.keepAlive,
    clock,
    reporter,
    logger,
    peerLog: new LimitedLog(logger),
    warnOnce(key, message) {
      if (warned.has(key)) return;
      warned.add(key);
      logger.warn(message);
    },
  };
}

/** Who the link may talk to. */
export interface LinkAuth {
  /** Inbound: who may claim which nodeId (none: anyone, anything). */
  authenticator?: Authenticator;
  /** Outbound: the token we present. */
  present?: string;
  /** Outbound: the nodeId the server must welcome us under. */
  expectNodeId?: string;
}

/**
 * A link's life, in order; it only moves forward.
 * - `handshaking`: connected, no hello/welcome yet (or a stock client's first data frame).
 * - `open`: heartbeats and data.
 * - `draining`: a graceful stop has begun (our server's, or the peer's server's): no new
 *   requests go out on it, replies to those in flight still do, heartbeats go on.
 * - `closing`: the link has its cause; it is deaf, has said what it had to say (bye, reject,
 *   GOAWAY) and sent FIN, or destroyed its socket; the socket is destroyed within
 *   CLOSE_GRACE_MS whatever the peer sends or withholds.
 * - `closed`: the socket has closed; the cause is final.
 */
export type LinkPhase = 'handshaking' | 'open' | 'draining' | 'closing' | 'closed';
