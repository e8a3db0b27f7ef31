import type { CloseCause } from './close-cause.js';

/**
 * Close causes a link logs itself when it closes (PeerLink.fail, or a rejected handshake),
 * with the detail (how long silent, which protocol error). A later line about the same loss
 * leaves the reason out, so one event is not reported twice.
 */
const LOGGED_BY_LINK: ReadonlySet<string> = new Set<CloseCause>(['heartbeat-timeout', 'protocol-error', 'auth-failed']);

export function loggedByLink(cause: string | undefined): boolean {
  return cause !== undefined && LOGGED_BY_LINK.has(cause);
}
