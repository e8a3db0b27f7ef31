import type { PeerFilter } from '../interfaces/presence.interface.js';
import { OnPresenceEvent } from './on-presence-event.decorator.js';

/** Runs the method when a peer matching `filter` emits `left`. */
export const OnPeerLeft = (filter?: PeerFilter): MethodDecorator => OnPresenceEvent('left', filter);
