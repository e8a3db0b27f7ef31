import type { PeerFilter } from '../interfaces/presence.interface.js';
import { OnClusterPresenceEvent } from './on-presence-event.decorator.js';

/** Runs the method when a cluster peer matching `filter` emits `left` (needs the `cluster` option). */
export const OnClusterPeerLeft = (filter?: PeerFilter): MethodDecorator => OnClusterPresenceEvent('left', filter);
