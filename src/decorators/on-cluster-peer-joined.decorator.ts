import type { PeerFilter } from '../interfaces/presence.interface.js';
import { OnClusterPresenceEvent } from './on-presence-event.decorator.js';

/** Runs the method when a cluster peer matching `filter` emits `joined` (needs the `cluster` option). */
export const OnClusterPeerJoined = (filter?: PeerFilter): MethodDecorator => OnClusterPresenceEvent('joined', filter);
