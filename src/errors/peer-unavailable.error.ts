import * as messages from '../common/heartbeat.messages.js';
import type { LossReason, PeerStatus } from '../interfaces/presence.interface.js';

/**
 * A `send`/`emit` on a `HeartbeatClient` that has no live link (the peer is down, or the client
 * is between reconnect attempts). Requests already in flight when a link ends fail with
 * `PeerLostError` instead.
 */
export class PeerUnavailableError extends Error {
  constructor(
    /** The peer's nodeId, when it was ever reached. */
    readonly peerId: string | undefined,
    /** The peer's status in the presence table; `unknown` when never reached or forgotten. */
    readonly status: PeerStatus | 'unknown',
    /** Why the last link ended, when it was lost. */
    readonly reason: LossReason | undefined,
    /** When the client will try again; 0 while an attempt is under way. */
    readonly nextAttemptInMs: number | undefined,
    target: string,
    /** What the last attempt met, e.g. `ECONNREFUSED` (in the message). */
    detail?: string,
  ) {
    super(messages.peerUnavailable(peerId ?? target, status, reason, nextAttemptInMs, detail));
    this.name = 'PeerUnavailableError';
  }
}
