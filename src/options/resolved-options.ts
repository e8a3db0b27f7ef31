import type { ConnectionOptions, TlsOptions } from 'node:tls';
import type { DetectionRule } from '../detector/failure-detector.js';
import type {
  HeartbeatTimingOptions, KeepAliveOptions, PeerClaim, ReconnectOptions,
} from '../interfaces/heartbeat-options.interface.js';

/** Options with every default filled in and validated: what the rest of the library reads. */
export interface ResolvedHeartbeatOptions {
  nodeId: string;
  /** Random per process start (per module instance), sent in the handshake: a restart is a new peer. */
  incarnation: string;
  metadata: Record<string, string>;
  heartbeat: ResolvedTimingOptions;
  keepAlive: Required<KeepAliveOptions>;
  /**
   * Limits of every link of this process, inbound and outbound. Given under `server` (the
   * contract's place for them) and applied to this process's clients too, so one process has
   * one frame limit.
   */
  limits: { maxFrameBytes: number; handshakeTimeoutMs: number };
  presence: { retainMs: number; maxRetained: number; maxLinksPerPeer: number };
  server?: ResolvedServerOptions;
  clients: ResolvedClientOptions[];
  /** Set when `cluster` is configured. */
  cluster?: ResolvedClusterOptions;
}

export interface ResolvedTimingOptions extends Required<Omit<HeartbeatTimingOptions, 'detectWithinMs'>> {
  detectWithinMs?: number;
  /** The detector's thresholds and tick, derived once from the fields above. */
  rule: DetectionRule;
}

export interface ResolvedServerOptions {
  host: string;
  port: number;
  tlsOptions?: TlsOptions;
  identity: ResolvedIdentity;
  minPingIntervalMs: number;
  drainTimeoutMs: number;
  maxConnections: number;
  maxPendingHandshakes: number;
}

/**
 * Who may claim which nodeId. `none`: anyone, anything; `shared`: a token holder, any nodeId;
 * `tokens` / `callback`: a nodeId is bound to its own credential. `certificate` adds (to any
 * of them) that the nodeId must be named by the client certificate.
 */
export interface ResolvedIdentity {
  mode: 'none' | 'shared' | 'tokens' | 'callback';
  authToken?: string;
  authTokens?: Readonly<Record<string, string>>;
  authenticate?: (claim: PeerClaim) => boolean | Promise<boolean>;
  certificate: boolean;
}

export interface ResolvedClientOptions {
  name: string | symbol;
  host: string;
  port: number;
  tlsOptions?: ConnectionOptions;
  authToken?: string;
  expectNodeId?: string;
  reconnect: Required<ReconnectOptions>;
  waitForReadyMs: number;
}

export interface ResolvedClusterOptions {
  /** An ioredis client, ioredis options or a URL: checked for shape here, used by cluster/. */
  redis: unknown;
  namespace: string;
  leaseTtlMs: number;
  renewIntervalMs: number;
}
