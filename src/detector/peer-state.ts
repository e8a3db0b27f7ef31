import type { PeerStatus, PresenceEventType } from '../interfaces/presence.interface.js';

/** What a single link contributes: open links are alive or suspect. */
export type LinkStatus = 'alive' | 'suspect';

/**
 * A peer's status from its open links: alive while any link is alive, suspect while all are
 * suspect, and when none is left, `left` if it said goodbye, else `lost`.
 */
export function peerStatus(links: Iterable<{ status: LinkStatus }>, saidGoodbye: boolean): PeerStatus {
  let any = false;
  for (const link of links) {
    if (link.status === 'alive') return 'alive';
    any = true;
  }
  if (any) return 'suspect';
  return saidGoodbye ? 'left' : 'lost';
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
