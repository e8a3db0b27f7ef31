import * as messages from '../heartbeat.messages.js';
import type { LossReason } from '../interfaces/presence.interface.js';

/**
 * Fails every request in flight on a link whose peer was lost (or left), at once, instead of
 * letting it hang until a generic timeout.
 */
export class PeerLostError extends Error {
  constructor(
    /** The peer's nodeId, or host:port when the link never completed its handshake. */
    readonly peerId: string,
    /** `lost` with a reason, or `left` when the peer said goodbye. */
    readonly status: 'lost' | 'left',
    readonly reason?: LossReason,
  ) {
    super(status === 'left' ? messages.peerLeft(peerId) : messages.peerLost(peerId, String(reason)));
    this.name = 'PeerLostError';
  }
}
