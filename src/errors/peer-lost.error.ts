import * as messages from '../common/heartbeat.messages.js';
import type { LossReason } from '../interfaces/presence.interface.js';

/**
 * Fails every request in flight on a link whose peer was lost (or left), at once, instead of
 * letting it hang until a generic timeout.
 */
export class PeerLostError extends Error {
  constructor(
    /** The peer's nodeId, or host:port when the link never completed its handshake. */
    readonly peerId: string,
    /**
     * `lost` with a reason, `left` when the peer said goodbye, or `suspect` when the link closed
     * inside a resume window (the peer may still come back; these requests are failed anyway).
     */
    readonly status: 'lost' | 'left' | 'suspect',
    readonly reason?: LossReason,
  ) {
    super(status === 'left' ? messages.peerLeft(peerId)
      : status === 'suspect' ? messages.linkLostInResumeWindow(peerId, String(reason)) : messages.peerLost(peerId, String(reason)));
    this.name = 'PeerLostError';
  }
}
