import type { PeerFilter, PeerInfo } from '../interfaces/presence.interface.js';

/** Whether `peer` matches a decorator filter; no filter matches every peer. */
export function matchesPeer(filter: PeerFilter | undefined, peer: PeerInfo): boolean {
  if (filter === undefined) return true;
  if (typeof filter === 'string') return peer.id === filter;
  if (typeof filter === 'function') return filter(peer) === true;
  if (filter.id !== undefined && filter.id !== peer.id) return false;
  for (const [key, value] of Object.entries(filter.metadata ?? {})) {
    if (peer.metadata[key] !== value) return false;
  }
  return true;
}
