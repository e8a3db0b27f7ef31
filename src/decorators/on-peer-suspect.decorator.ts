import type { PeerFilter } from '../interfaces/presence.interface.js';
import { OnPresenceEvent } from './on-presence-event.decorator.js';

/** Runs the method when a peer matching `filter` emits `suspect`. */
export const OnPeerSuspect = (filter?: PeerFilter): MethodDecorator => OnPresenceEvent('suspect', filter);
