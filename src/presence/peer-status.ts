import type { LinkStatus } from '../detector/failure-detector.js';
import type { CloseCause, PeerStatus, PresenceEventType } from '../interfaces/presence.interface.js';

/**
 * A peer's status and the events its changes make, as pure functions: the peer table applies
 * them, the tests run them on their own.
 */

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
