import type { PeerFilter } from '../interfaces/presence.interface.js';
import { OnClusterPresenceEvent } from './on-presence-event.decorator.js';

/** Runs the method when a cluster peer matching `filter` emits `lost` (needs the `cluster` option). */
export const OnClusterPeerLost = (filter?: PeerFilter): MethodDecorator => OnClusterPresenceEvent('lost', filter);
