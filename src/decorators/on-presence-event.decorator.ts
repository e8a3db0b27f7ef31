import { PRESENCE_HANDLERS_METADATA } from '../heartbeat.constants.js';
import type { PeerFilter, PresenceEventType } from '../interfaces/presence.interface.js';

export interface PresenceHandlerMetadata {
  type: PresenceEventType;
  filter?: PeerFilter;
}

/**
 * Runs the decorated provider method on every presence event of `type` whose peer matches
 * `filter` (a peer id, `{ id, metadata }`, or a predicate). Decorators stack: the metadata is
 * an array on the method. The method gets the `PresenceEvent`; what it throws is logged.
 */
export function OnPresenceEvent(type: PresenceEventType, filter?: PeerFilter): MethodDecorator {
  return (_target, _key, descriptor) => {
    const handler = descriptor.value as object;
    const existing: PresenceHandlerMetadata[] = Reflect.getMetadata(PRESENCE_HANDLERS_METADATA, handler) ?? [];
    Reflect.defineMetadata(PRESENCE_HANDLERS_METADATA, [...existing, { type, filter }], handler);
    return descriptor;
  };
}
