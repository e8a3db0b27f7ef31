import type { ConnectionOptions, TlsOptions } from 'node:tls';
import type { DetectionRule } from '../detector/failure-detector.js';
import type {
  HeartbeatTimingOptions, KeepAliveOptions, ReconnectOptions,
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
  authToken?: string;
  minPingIntervalMs: number;
  drainTimeoutMs: number;
}

export interface ResolvedClientOptions {
  name: string | symbol;
  host: string;
  port: number;
  tlsOptions?: ConnectionOptions;
  authToken?: string;
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
