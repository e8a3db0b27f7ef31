/** Injection token of the options after defaults and validation (`ResolvedHeartbeatOptions`). */
export const HEARTBEAT_RESOLVED_OPTIONS = Symbol('HEARTBEAT_RESOLVED_OPTIONS');
/** Cluster presence (internal): a ClusterPresenceService when `cluster` is configured, else null. */
export const CLUSTER_PRESENCE = Symbol('CLUSTER_PRESENCE');
/** Optional RxJS scheduler of the ticker (internal: virtual time in tests). */
export const HEARTBEAT_SCHEDULER = Symbol('HEARTBEAT_SCHEDULER');
/** Metadata key written by the @OnPeer* decorators. */
export const PRESENCE_HANDLERS_METADATA = 'nest-heartbeat:presence-handlers';

export const DEFAULT_INTERVAL_MS = 1000;
/** The shortest heartbeat interval accepted: below it a healthy loopback link flaps (README, "Configuration"). */
export const MIN_INTERVAL_MS = 10;
/** The longest delay a Node timer keeps (2³¹−1 ms); anything above fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const DEFAULT_MISSED_BEATS = 3;
export const DEFAULT_SUSPECT_AFTER_BEATS = 1;

/** Defaults find a half-open idle link in idle + probes × interval = 9 s. */
export const DEFAULT_KEEPALIVE_IDLE_MS = 5000;
export const DEFAULT_KEEPALIVE_INTERVAL_MS = 1000;
export const DEFAULT_KEEPALIVE_PROBES = 4;

/** gRPC's default receive limit. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** A server's floor for its clients' ping interval (sent in the welcome). */
export const DEFAULT_MIN_PING_INTERVAL_MS = 100;
/** How long a stopping server lets requests in flight finish before it says goodbye. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 3000;

export const DEFAULT_RECONNECT = { initialDelayMs: 200, maxDelayMs: 5000, factor: 2, jitter: 0.2 } as const;

/** How long a lost or left peer stays in the table, and how many are kept at most. */
export const DEFAULT_RETAIN_MS = 60_000;
export const DEFAULT_MAX_RETAINED = 10_000;
/** Server limits: sockets, sockets still handshaking, links of one nodeId. */
export const DEFAULT_MAX_CONNECTIONS = 100_000;
export const DEFAULT_MAX_PENDING_HANDSHAKES = 1_000;
export const DEFAULT_MAX_LINKS_PER_PEER = 8;
/**
 * At maxPendingHandshakes, a new socket takes the slot of the longest-pending one if that one has
 * been handshaking this long, not counting time our own loop was blocked (an honest hello takes a
 * round trip, not a second; in a reconnect storm it may wait unread while we are busy): a slowloris
 * that fills the slots cannot keep an honest peer out, and sockets arriving faster than this
 * cannot push out an honest handshake under way (B7 (c): a peer arriving mid-attack joined in
 * 24.7 s when the newest was refused, in 0.2 s when the oldest made room).
 */
export const PENDING_HANDSHAKE_EVICT_AFTER_MS = 1_000;
/**
 * The largest frame before the handshake completes: a hello at its own limits is ~5 KiB, so
 * an unauthenticated socket can make the server buffer no more than this.
 */
export const HANDSHAKE_MAX_FRAME_BYTES = 64 * 1024;
/**
 * How long a link that is ending (goodbye either way, refusal, our own close) may stay open
 * before its socket is destroyed, whether or not the peer ever answers with FIN.
 */
export const CLOSE_GRACE_MS = 200;

export const DEFAULT_CLUSTER_NAMESPACE = 'nest-heartbeat';
export const DEFAULT_LEASE_TTL_MS = 10_000;
export const DEFAULT_RENEW_INTERVAL_MS = 2_000;
