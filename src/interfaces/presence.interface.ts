export type PeerStatus = 'alive' | 'suspect' | 'lost' | 'left';

export type LossReason =
  | 'heartbeat-timeout'
  | 'keepalive-timeout'
  | 'connection-reset'
  | 'closed-without-goodbye'
  | 'protocol-error'
  | 'auth-failed'
  /** The peer pinged faster than the server's `minPingIntervalMs`, 3 times. */
  | 'too-many-pings'
  /** A new incarnation of the same nodeId (the process restarted) took its place. */
  | 'replaced'
  /** Cluster presence only: the replica that held the peer died. */
  | 'replica-lost'
  /** Cluster presence only: the replica that held the peer shut down and the peer did not reconnect elsewhere within leaseTtlMs. */
  | 'replica-left';

/**
 * Why a link ended. Loss reasons are reported on `lost`; `goodbye` (the peer said bye) and
 * `local` (we closed it) are departures; `superseded` (a newer incarnation of the same nodeId
 * holds it) and `identity-mismatch` (the server is not the `expectNodeId` we asked for) end a
 * handshake before anyone joined (`HandshakeError.closeCause`).
 */
export type CloseCause = LossReason | 'goodbye' | 'local' | 'superseded' | 'identity-mismatch';

export type PresenceEventType = 'joined' | 'suspect' | 'recovered' | 'lost' | 'left';

/** Counters of one peer's links, summed over the links it had since it joined. */
export interface PeerStats {
  /** Pings this process sent to the peer. */
  pingsSent: number;
  /** Pongs received back. */
  pongsReceived: number;
  /** Times the peer went silent past the suspect threshold. */
  suspectCount: number;
  /** Times the peer joined again after being lost or having left. */
  reconnects: number;
  /** Bytes of heartbeat frames (handshake, ping, pong, goodbye) sent and received. */
  controlBytesSent: number;
  controlBytesReceived: number;
}

export interface PeerInfo {
  /** The peer's nodeId from its handshake; `tcp:host:port` for a stock ClientTCP. */
  id: string;
  status: PeerStatus;
  /** `inbound`: it connected to us; `outbound`: we connected to it. */
  direction: 'inbound' | 'outbound';
  /** `false` for a stock ClientTCP without heartbeats (kernel keepalive only). */
  managed: boolean;
  /** Remote host:port. */
  address: string;
  metadata: Record<string, string>;
  /** Epoch ms. */
  connectedAt: number;
  /** Epoch ms of the last frame received. */
  lastSeenAt: number;
  /** Smoothed round-trip time from ping/pong (RFC 6298 SRTT). */
  rttMs?: number;
  stats: PeerStats;
}

export interface PresenceEvent {
  type: PresenceEventType;
  /** Snapshot of the peer at the time of the event. */
  peer: PeerInfo;
  /** Set on `lost`. */
  reason?: LossReason;
  /** Epoch ms. */
  at: number;
}

export type PeerFilter =
  | string
  | { id?: string; metadata?: Record<string, string> }
  | ((peer: PeerInfo) => boolean);
