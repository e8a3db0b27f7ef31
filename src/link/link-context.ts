import type { Logger } from '@nestjs/common';
import { detectionRule } from '../detector/failure-detector.js';
import type { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import type { ResolvedHeartbeatOptions } from '../heartbeat-options.js';
import type { LinkHost } from './link-host.js';
import type { LinkContext } from './peer-link.js';

/** Everything the links of one server or client share. */
export function createLinkContext(
  options: ResolvedHeartbeatOptions, detector: HeartbeatTicker, host: LinkHost, logger: Logger,
): LinkContext {
  return {
    nodeId: options.nodeId,
    metadata: options.metadata,
    rule: detectionRule(options.heartbeat),
    handshakeTimeoutMs: options.limits.handshakeTimeoutMs,
    // Replies to a peer that stopped reading queue here; past this the peer is cut.
    maxQueuedBytes: Math.max(64 * 1024 * 1024, 4 * options.limits.maxFrameBytes),
    now: () => detector.now(),
    blockedSince: (t) => detector.blockedSince(t),
    register: (link) => detector.add(link),
    unregister: (link) => detector.remove(link),
    host,
    logger,
  };
}
