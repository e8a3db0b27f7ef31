import type { ConnectionOptions, PeerCertificate, TlsOptions } from 'node:tls';
import type { ClusterOptions } from './cluster.interface.js';

/** Kernel TCP keepalive and socket options applied to every socket (accepted or opened). */
export interface KeepAliveOptions {
  /** SO_KEEPALIVE on every socket. Default `true`. */
  enabled?: boolean;
  /** TCP_KEEPIDLE: idle time before the first probe. Whole seconds. Default `5000`. */
  idleMs?: number;
  /** TCP_KEEPINTVL: time between unanswered probes. Whole seconds. Default `1000`. */
  intervalMs?: number;
  /** TCP_KEEPCNT: unanswered probes before the kernel drops the link. Default `4`. */
  probes?: number;
  /** TCP_USER_TIMEOUT: how long sent data may stay unacknowledged. Default `idleMs + probes × intervalMs` (9000). */
  userTimeoutMs?: number;
  /** TCP_NODELAY (Nagle off). Default `true`. */
  noDelay?: boolean;
}

/** Application heartbeat timing; see the Timing section of the README. */
export interface HeartbeatTimingOptions {
  /** A ping is sent whenever nothing was sent for this long. At least 10. Default `1000`. */
  intervalMs?: number;
  /** Lost after `missedBeats × intervalMs + intervalMs / 2` of silence. Default `3`. */
  missedBeats?: number;
  /** Suspect after `suspectAfterBeats × intervalMs + intervalMs / 2` of silence. Default `1`. */
  suspectAfterBeats?: number;
  /**
   * One budget instead of `intervalMs`: a hung or cut-off peer is lost within this of the fault.
   * Sets `intervalMs = floor(detectWithinMs / (missedBeats + 1))` and the kernel keepalive
   * (`idle + probes × interval ≤ 2 × detectWithinMs`, whole seconds). Not with `intervalMs`.
   */
  detectWithinMs?: number;
  /**
   * Default `0` (off). Above 0, a link that closes without goodbye (RST, FIN without `bye`) makes
   * its peer `suspect`, not `lost`; if the same incarnation is back within the window it is
   * `recovered`, otherwise `lost` with the original reason when the window ends.
   */
  resumeWindowMs?: number;
  /**
   * How silence is judged. `'fixed'` (default): the thresholds above. `'adaptive'`: each link
   * learns the mean and deviation of its gaps between arrivals and is suspect/lost when a silence
   * is that improbable, never later than the `'fixed'` lost threshold (docs/DETECTION.md).
   */
  detector?: 'fixed' | 'adaptive';
}

export interface HeartbeatServerOptions {
  /** Default `'127.0.0.1'`. */
  host?: string;
  /** Default `3000` (Nest's TCP default). */
  port?: number;
  tlsOptions?: TlsOptions;
  /**
   * A shared secret: peers must present it in their handshake; stock `ClientTCP` peers are then
   * refused. Every holder may claim any nodeId (see docs/SECURITY.md). Not with `authTokens` or
   * `authenticate`.
   */
  authToken?: string;
  /**
   * Bound identities: nodeId → that node's own token. A hello must carry the token of the nodeId
   * it claims; it can claim no other. Not with `authToken` or `authenticate`.
   */
  authTokens?: Record<string, string>;
  /**
   * Bound identities, your own check (a secret store, a signed token, an allow-list): `true`
   * admits the claim, `false` (or a throw) refuses it (`auth-failed`). Bounded by
   * `handshakeTimeoutMs`. Not with `authToken` or `authTokens`.
   */
  authenticate?: (claim: PeerClaim) => boolean | Promise<boolean>;
  /**
   * Bound identities from mTLS: with `tlsOptions.requestCert`, the claimed nodeId must be the
   * client certificate's CN or one of its SAN DNS/URI names. Combines with any of the three above.
   * Default `false`.
   */
  identityFromCertificate?: boolean;
  /** Largest frame accepted, as Nest's length prefix counts it. Default 4 MiB. */
  maxFrameBytes?: number;
  /** A connection that neither handshakes nor sends data within this is closed. Default `10000`. */
  handshakeTimeoutMs?: number;
  /**
   * The fastest a client may ping, sent in the welcome. A HeartbeatClient configured faster uses
   * this on the link (and warns once); a peer that pings faster anyway is closed after 3 strikes
   * (`too-many-pings`). Default `100`.
   */
  minPingIntervalMs?: number;
  /** Sockets over this many are closed at accept (Node's `server.maxConnections`). Default `100000`. */
  maxConnections?: number;
  /**
   * Sockets that have not finished the handshake. Over it, a new socket takes the slot of the
   * longest-pending one if that one has been handshaking for over 1 s, else it is closed at
   * accept: sockets that never finish (a slowloris) cannot keep honest peers out. Default `1000`.
   */
  maxPendingHandshakes?: number;
  /** Links of one nodeId; a hello over it is refused (`protocol-error`). Default `8`. */
  maxLinksPerPeer?: number;
  /**
   * On shutdown the server first tells its peers it is draining (they send nothing new and
   * connect again elsewhere), lets the requests in flight finish for up to this long, then says
   * goodbye. `0`: goodbye at once. Default `5000`.
   */
  drainTimeoutMs?: number;
}

export interface ReconnectOptions {
  /** First retry delay. Default `200`. */
  initialDelayMs?: number;
  /** Cap of the retry delay. Default `5000`. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Default `2`. */
  factor?: number;
  /** Random spread, ± this fraction of the delay. Default `0.2`. */
  jitter?: number;
}

export interface HeartbeatClientOptions {
  /** Injection token of this client. */
  name: string | symbol;
  /** Default `'127.0.0.1'`. */
  host?: string;
  /** Default `3000`. */
  port?: number;
  tlsOptions?: ConnectionOptions;
  /** The token this client presents (a shared `authToken`, or its own under `authTokens`). */
  authToken?: string;
  /**
   * The nodeId the server must welcome us under; any other is refused (`HandshakeError`,
   * closeCause `identity-mismatch`). With TLS the server's certificate is verified as usual.
   */
  expectNodeId?: string;
  reconnect?: ReconnectOptions;
  /**
   * How long a `send`/`emit` made while there is no live link waits for one before it fails
   * with `PeerUnavailableError`. Default `0`: fail at once.
   */
  waitForReadyMs?: number;
}

/** What a peer claims in its hello, for `server.authenticate`. */
export interface PeerClaim {
  nodeId: string;
  incarnation: string;
  metadata: Record<string, string>;
  /** The token it presented, if any. */
  token?: string;
  /** Its TLS client certificate, when the server requests one. */
  certificate?: PeerCertificate;
  /** host:port it connects from. */
  remoteAddress: string;
}

/** The peer table's retention of departed (lost or left) peers. */
export interface PresenceOptions {
  /** How long a lost or left peer stays in `peers()` / `get()`. Default `60000`. */
  retainMs?: number;
  /** Departed peers kept at most; over it the oldest is dropped first. Default `10000`. */
  maxRetained?: number;
}

export interface HeartbeatModuleOptions {
  /** This process's identity. Default `${hostname}-${pid}-${random}`. */
  nodeId?: string;
  /** Sent to peers in the handshake (service name, version…). Default `{}`. */
  metadata?: Record<string, string>;
  heartbeat?: HeartbeatTimingOptions;
  keepAlive?: KeepAliveOptions;
  server?: HeartbeatServerOptions;
  clients?: HeartbeatClientOptions[];
  presence?: PresenceOptions;
  /** Cluster presence on Redis: one view of every peer across the replicas of a service. Off by default. */
  cluster?: ClusterOptions;
  /** Register the module globally. Default `false`. */
  isGlobal?: boolean;
}
