import { presenceHandler } from './on-presence-event.decorator.js';

/** Runs the method with a `ReplicaLostEvent` when a replica of the cluster is reaped (needs the `cluster` option). */
export const OnReplicaLost = (): MethodDecorator => presenceHandler({ scope: 'replica', type: 'replica-lost' });
