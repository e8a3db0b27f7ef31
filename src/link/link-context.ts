import type { Logger } from '@nestjs/common';
import { detectionRule, type DetectionRule, type LinkStatus } from '../detector/failure-detector.js';
import type { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import type { ResolvedHeartbeatOptions } from '../interfaces/heartbeat-options.interface.js';
import type { PeerStats } from '../interfaces/presence.interface.js';
import type { CloseCause } from './close-cause.js';

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
  readonly status: LinkStatus;
  readonly connectedAt: number;
  readonly lastHeardAt: number;
  readonly rttMs: number | undefined;
  readonly stats: Readonly<PeerStats>;
  /** Set once the link ends (or is ending): why. */
  readonly cause: CloseCause | undefined;
}

/** Receives a link's life events; the peer table implements it. */
export interface LinkReporter {
  /** The handshake completed (or a stock client sent its first data frame). */
  opened(link: LinkView): void;
  /** The link's status (alive/suspect) changed. */
  changed(link: LinkView): void;
  /** An opened link closed; `link.cause` says why. */
  closed(link: LinkView): void;
  /** A ping/pong round trip measured on the link (raw, before smoothing). */
  rttSampled(link: LinkView, rttMs: number): void;
}

/** What every link of one server or client shares. */
export interface LinkContext {
  nodeId: string;
  metadata: Record<string, string>;
  rule: DetectionRule;
  handshakeTimeoutMs: number;
  maxFrameBytes: number;
  /** A peer with more than this queued and unread is cut. */
  maxQueuedBytes: number;
  keepAlive: ResolvedHeartbeatOptions['keepAlive'];
  clock: Pick<HeartbeatTicker, 'now' | 'blockedSince' | 'after' | 'add' | 'remove'>;
  reporter: LinkReporter;
  logger: Logger;
}

export function createLinkContext(
  options: ResolvedHeartbeatOptions, clock: LinkContext['clock'], reporter: LinkReporter, logger: Logger,
): LinkContext {
  return {
    nodeId: options.nodeId,
    metadata: options.metadata,
    rule: detectionRule(options.heartbeat),
    handshakeTimeoutMs: options.limits.handshakeTimeoutMs,
    maxFrameBytes: options.limits.maxFrameBytes,
    // Replies to a peer that stopped reading queue here; past this the peer is cut.
    maxQueuedBytes: Math.max(64 * 1024 * 1024, 4 * options.limits.maxFrameBytes),
    keepAlive: options.keepAlive,
    clock,
    reporter,
    logger,
  };
}
