export { HeartbeatModule } from './heartbeat.module.js';
export { HEARTBEAT_MODULE_OPTIONS } from './heartbeat.module-definition.js';
export type { HeartbeatModuleExtras } from './heartbeat.module-definition.js';
export { HEARTBEAT_RESOLVED_OPTIONS } from './common/heartbeat.constants.js';
export type { ResolvedHeartbeatOptions } from './options/resolved-options.js';
export type {
  HeartbeatModuleOptions, KeepAliveOptions, PeerClaim, PresenceOptions, HeartbeatTimingOptions, HeartbeatServerOptions, HeartbeatClientOptions, ReconnectOptions,
} from './interfaces/heartbeat-options.interface.js';
export type {
  PeerStatus, PeerInfo, PeerStats, PresenceEvent, PresenceEventType, LossReason, PeerFilter,
} from './interfaces/presence.interface.js';
export { PresenceService } from './presence/presence.service.js';
export type {
  ClusterOptions, ClusterPresence, ClusterPeerInfo, ClusterPeerReplica, ClusterPresenceEvent, ClusterPresenceEventType,
  ClusterStatus, RedisClientLike, RedisConnectionOptions, ReplicaInfo, ReplicaLostEvent,
} from './interfaces/cluster.interface.js';
export { HeartbeatServer } from './transport/heartbeat-server.js';
export { HeartbeatClient } from './transport/heartbeat-client.js';
export { PeerLostError } from './errors/peer-lost.error.js';
export { PeerUnavailableError } from './errors/peer-unavailable.error.js';
export { HandshakeError } from './errors/handshake.error.js';
export { OnPresenceEvent } from './decorators/on-presence-event.decorator.js';
export { OnPeerJoined } from './decorators/on-peer-joined.decorator.js';
export { OnPeerSuspect } from './decorators/on-peer-suspect.decorator.js';
export { OnPeerRecovered } from './decorators/on-peer-recovered.decorator.js';
export { OnPeerLost } from './decorators/on-peer-lost.decorator.js';
export { OnPeerLeft } from './decorators/on-peer-left.decorator.js';
export { OnClusterPresenceEvent } from './decorators/on-presence-event.decorator.js';
export { OnClusterPeerJoined } from './decorators/on-cluster-peer-joined.decorator.js';
export { OnClusterPeerLost } from './decorators/on-cluster-peer-lost.decorator.js';
export { OnClusterPeerLeft } from './decorators/on-cluster-peer-left.decorator.js';
export { OnReplicaLost } from './decorators/on-replica-lost.decorator.js';
export { PROTOCOL_VERSION } from './protocol/frames.js';
