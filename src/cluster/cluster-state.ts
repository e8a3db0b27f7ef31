import type { ClusterStatus } from '../interfaces/cluster.interface.js';

/**
 * The cluster service's one state. `starting` until the first registration or failure,
 * `connected` while the lease is held and Redis answers both the writer and the reader,
 * `degraded` (with why) otherwise, `stopped` after shutdown. Derived from what the parts report
 * (ClusterHealth) by one pure function, so no combination of flags is left to interpretation.
 */
export type ClusterState =
  | { readonly name: 'starting' }
  | { readonly name: 'connected' }
  | { readonly name: 'degraded'; readonly why: string }
  | { readonly name: 'stopped' };

/** What the parts report. */
export interface ClusterHealth {
  /** The lease is held (registered, not fenced since). */
  registered: boolean;
  /** Why the last renewal or publish failed, until a renewal succeeds. */
  writeFailure?: string;
  /** Why the stream reader failed, until it reads again. */
  readFailure?: string;
}

export const STARTING: ClusterState = { name: 'starting' };
const CONNECTED: ClusterState = { name: 'connected' };
export const STOPPED: ClusterState = { name: 'stopped' };

export function nextClusterState(current: ClusterState, health: ClusterHealth): ClusterState {
  if (current.name === 'stopped') return current;
  if (health.registered && health.writeFailure === undefined && health.readFailure === undefined) return CONNECTED;
  if (current.name === 'starting' && health.writeFailure === undefined && health.readFailure === undefined) return current;
  const why = health.writeFailure ?? health.readFailure ?? 'not registered';
  return current.name === 'degraded' && current.why === why ? current : { name: 'degraded', why };
}

/** The public face of a state: anything but connected is degraded. */
export const statusOf = (state: ClusterState): ClusterStatus => (state.name === 'connected' ? 'connected' : 'degraded');
