import { PRESENCE_HANDLERS_METADATA } from '../common/heartbeat.constants.js';
import type { ClusterPresenceEventType } from '../interfaces/cluster.interface.js';
import type { PeerFilter, PresenceEventType } from '../interfaces/presence.interface.js';

/** Which stream a handler listens to: this process's links, the cluster's peers, or the cluster's replicas. */
export type PresenceScope = 'local' | 'cluster' | 'replica';

export type PresenceHandlerMetadata =
  | { scope?: 'local'; type: PresenceEventType; filter?: PeerFilter }
  | { scope: 'cluster'; type: ClusterPresenceEventType; filter?: PeerFilter }
  | { scope: 'replica'; type: 'replica-lost'; filter?: undefined };

/** Appends handler metadata to the method: decorators stack. Every @On* presence decorator is this. */
export function presenceHandler(metadata: PresenceHandlerMetadata): MethodDecorator {
  return (_target, _key, descriptor) => {
    const handler = descriptor.value as object;
    const existing: PresenceHandlerMetadata[] = Reflect.getMetadata(PRESENCE_HANDLERS_METADATA, handler) ?? [];
    Reflect.defineMetadata(PRESENCE_HANDLERS_METADATA, [...existing, metadata], handler);
    return descriptor;
  };
}

/**
 * Runs the decorated provider method on every presence event of `type` whose peer matches
 * `filter` (a peer id, `{ id, metadata }`, or a predicate). Decorators stack: the metadata is
 * an array on the method. The method gets the `PresenceEvent`; what it throws is logged.
 */
export function OnPresenceEvent(type: PresenceEventType, filter?: PeerFilter): MethodDecorator {
  return presenceHandler({ type, filter });
}

/**
 * Like OnPresenceEvent, for cluster presence: the method gets the `ClusterPresenceEvent`.
 * Needs the `cluster` option.
 */
export function OnClusterPresenceEvent(type: ClusterPresenceEventType, filter?: PeerFilter): MethodDecorator {
  return presenceHandler({ scope: 'cluster', type, filter });
}
