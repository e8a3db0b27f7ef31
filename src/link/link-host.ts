import type { PeerLink } from './peer-link.js';

/** Receives a link's life events; implemented by PresenceService. */
export interface LinkHost {
  /** The handshake completed (or a stock client sent its first data frame). */
  linkOpened(link: PeerLink): void;
  /** The link's status (alive/suspect) changed. */
  linkChanged(link: PeerLink): void;
  /** An opened link closed; `link.cause` says why. */
  linkClosed(link: PeerLink): void;
}
