/**
 * `nest-heartbeat/terminus`: a @nestjs/terminus health indicator on peer presence.
 * A separate entry point, so applications without @nestjs/terminus (an optional peer
 * dependency) never load it: nothing in the package root imports this.
 */
export { HeartbeatHealthIndicator } from './heartbeat-health.indicator.js';
export type {
  PeerHealthCheckOptions, PeerHealthData, PeerHealthDetail, PeerHealthResult, PeerQuorumOptions,
} from './heartbeat-health.indicator.js';
export { HeartbeatHealthModule } from './heartbeat-health.module.js';
