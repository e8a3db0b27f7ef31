import type { Logger } from '@nestjs/common';
import {
  afterBeat, afterSilence, judgeSilence, pingDue, type DetectionRule, type LinkStatus,
} from '../detector/failure-detector.js';
import { smoothRtt } from '../detector/rtt.js';
import { HandshakeError } from '../errors/handshake.error.js';
import * as messages from '../heartbeat.messages.js';
import type { LossReason, PeerStats } from '../interfaces/presence.interface.js';
import type { FrameListener, LinkTransport } from '../protocol/heartbeat-socket.js';
import {
  BYE, hello, isControlFrame, isValidHello, ping, pong, PROTOCOL_VERSION, reject, welcome,
  type ControlFrame, type HelloFrame,
} from '../protocol/frames.js';
import { tokenMatches } from './auth-token.js';
import { causeFromSocketError, type CloseCause } from './close-cause.js';
import type { LinkHost } from './link-host.js';

/** Far above any honest peer (the shortest tick is 5 ms, so at most ~200 pings/s), far below a flood. */
const MAX_PINGS_PER_SECOND = 1000;

/** What every link of this process shares. */
export interface LinkContext {
  nodeId: string;
  metadata: Record<string, string>;
  rule: DetectionRule;
  handshakeTimeoutMs: number;
  /** A peer with more than this queued and unread is cut. */
  maxQueuedBytes: number;
  now(): number;
  /** Time this process's loop was blocked since `t`; stretches the thresholds. */
  blockedSince(t: number): number;
  register(link: PeerLink): void;
  unregister(link: PeerLink): void;
  host: LinkHost;
  logger: Logger;
}

export interface LinkAuth {
  /** Inbound: the token a peer must present. */
  expect?: string;
  /** Outbound: the token we present. */
  present?: string;
}

export type LinkPhase = 'handshaking' | 'open' | 'closed';

/**
 * One connection's heartbeat session: handshake, ping/pong, silence verdicts, close cause.
 *
 * It is driven by frames from its socket and by the detector's shared tick; it never owns a
 * timer. Presence is told when it opens, changes status and closes.
 */
export class PeerLink implements FrameListener {
  phase: LinkPhase = 'handshaking';
  status: LinkStatus = 'alive';
  peerId = '';
  metadata: Record<string, string> = {};
  managed = true;
  readonly connectedAt: number;
  lastHeardAt: number;
  rttMs: number | undefined;
  cause: CloseCause | undefined;
  readonly stats: PeerStats = {
    pingsSent: 0, pongsReceived: 0, suspectCount: 0, reconnects: 0, controlBytesSent: 0, controlBytesReceived: 0,
  };
  /** Outbound: settles when the handshake completes or fails. */
  readonly opened: Promise<void>;
  /** Settles when the socket has closed. */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private resolveOpened!: () => void;
  private rejectOpened!: (e: Error) => void;
  private seq = 0;
  private failed = false;
  /** Pings received in the current one-second window (flood guard). */
  private pingWindowStart = 0;
  private pingsInWindow = 0;

  constructor(
    readonly direction: 'inbound' | 'outbound',
    readonly address: string,
    private readonly transport: LinkTransport,
    private readonly ctx: LinkContext,
    private readonly auth: LinkAuth = {},
  ) {
    this.connectedAt = this.lastHeardAt = ctx.now();
    this.opened = new Promise<void>((resolve, rejectFn) => {
      this.resolveOpened = resolve;
      this.rejectOpened = rejectFn;
    });
    this.opened.catch(() => undefined); // callers that never await must not see an unhandled rejection
    this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
    ctx.register(this);
  }

  /** Outbound: the socket connected, so say hello first, before any data. */
  start(): void {
    this.send(hello(this.ctx.nodeId, this.ctx.metadata, this.auth.present));
  }

  onFrame(frame: Record<string, unknown>, length: number): boolean {
    // A link that failed (refused, protocol error, timeout) is dead at once: frames already read
    // in the same chunk are not processed, so one connection cannot try many tokens per read.
    if (this.phase === 'closed' || this.failed) return false;
    const now = this.ctx.now();
    this.lastHeardAt = now;
    if (this.phase === 'open') this.setStatus(afterBeat(this.status));
    if (!isControlFrame(frame)) return this.onDataFrame();
    this.stats.controlBytesReceived += length;
    this.onControlFrame(frame, now);
    return false;
  }

  onProtocolError(error: Error): void {
    this.fail('protocol-error', error.message);
  }

  /** Called by the shared tick. */
  onTick(now: number): void {
    if (this.phase === 'handshaking') {
      if (now - this.connectedAt > this.ctx.handshakeTimeoutMs) {
        this.fail('protocol-error', messages.handshakeTimedOut(this.ctx.handshakeTimeoutMs));
      }
      return;
    }
    if (this.phase !== 'open' || !this.managed) return;
    if (this.transport.writableLength > this.ctx.maxQueuedBytes) {
      this.fail('protocol-error', messages.slowReader(this.transport.writableLength));
      return;
    }
    const silence = now - this.lastHeardAt;
    const next = afterSilence(this.status, judgeSilence(silence, this.ctx.rule, this.ctx.blockedSince(this.lastHeardAt)));
    if (next === 'lost') {
      this.fail('heartbeat-timeout', messages.peerSilent(silence));
      return;
    }
    this.setStatus(next);
    if (pingDue(now, this.transport.lastSentAt, this.ctx.rule)) {
      this.stats.pingsSent++;
      this.send(ping(++this.seq, now, this.rttMs));
    }
  }

  private setStatus(next: LinkStatus): void {
    if (next === this.status) return;
    this.status = next;
    if (next === 'suspect') this.stats.suspectCount++;
    this.ctx.host.linkChanged(this);
  }

  /** The socket closed; `errorCode` is the socket error that preceded it, if any. */
  onTransportClosed(errorCode?: string): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    this.cause ??= causeFromSocketError(errorCode);
    this.ctx.unregister(this);
    this.resolveClosed();
    if (wasOpen) this.ctx.host.linkClosed(this);
    else this.rejectOpened(new HandshakeError(this.cause, messages.connectionClosed(this.address)));
  }

  /** Graceful local close: goodbye, then FIN once it is flushed. */
  sayGoodbye(): void {
    if (this.phase === 'closed') return;
    this.cause ??= 'local';
    if (this.phase === 'open' && this.managed) this.send(BYE);
    this.transport.end();
  }

  /** Closes the link for a loss reason, with a logged reason. */
  fail(reason: LossReason, why: string): void {
    if (this.phase === 'closed' || this.cause !== undefined) return;
    this.failed = true;
    this.cause = reason;
    this.ctx.logger.warn(messages.closingConnection(this.peerId || this.address, why, reason));
    this.transport.destroy();
  }

  private onDataFrame(): boolean {
    if (this.cause === 'local') return false; // we said goodbye: no new work on this link
    if (this.phase === 'open' || this.direction === 'outbound') return true;
    // Inbound data before any hello: a stock ClientTCP, tracked by kernel keepalive only.
    if (this.auth.expect !== undefined) {
      this.refuse('auth-failed', messages.authRejected(false));
      return false;
    }
    this.managed = false;
    this.open(`tcp:${this.address}`, {});
    return true;
  }

  private onControlFrame(frame: ControlFrame, now: number): void {
    switch (frame.$hb) {
      case 'ping':
        // A peer pings only after an interval of its own silence: more than MAX_PINGS_PER_SECOND
        // is a flood, not a heartbeat (each would cost a parse and a pong write).
        if (now - this.pingWindowStart >= 1000) {
          this.pingWindowStart = now;
          this.pingsInWindow = 0;
        }
        if (++this.pingsInWindow > MAX_PINGS_PER_SECOND) return this.fail('protocol-error', messages.pingFlood(MAX_PINGS_PER_SECOND));
        this.send(pong(frame));
        if (typeof frame.rtt === 'number' && frame.rtt >= 0) this.rttMs = frame.rtt;
        return;
      case 'pong':
        if (typeof frame.t === 'number' && frame.seq <= this.seq) {
          this.stats.pongsReceived++;
          this.rttMs = smoothRtt(this.rttMs, Math.max(0, now - frame.t));
        }
        return;
      case 'bye':
        this.cause ??= 'goodbye';
        this.transport.end();
        return;
      case 'hello':
        return this.onHello(frame);
      case 'welcome':
        if (this.direction !== 'outbound' || this.phase !== 'handshaking') return this.unexpected(frame.$hb);
        if (frame.v !== PROTOCOL_VERSION) return this.fail('protocol-error', messages.unsupportedProtocol(frame.v));
        this.open(String(frame.id), stringRecord(frame.meta));
        this.resolveOpened();
        return;
      case 'reject':
        this.cause ??= frame.reason === 'auth-failed' ? 'auth-failed' : 'protocol-error';
        this.ctx.logger.warn(messages.handshakeRejected(this.address, `${this.cause}: ${frame.message}`));
        this.transport.destroy();
        return;
      default:
        return this.unexpected(String((frame as { $hb: unknown }).$hb));
    }
  }

  private onHello(frame: HelloFrame): void {
    if (this.direction !== 'inbound' || this.phase !== 'handshaking') return this.unexpected('hello');
    if (frame.v !== PROTOCOL_VERSION) return this.refuse('protocol-error', messages.unsupportedProtocol(frame.v));
    if (!isValidHello(frame)) return this.refuse('protocol-error', messages.malformedHello());
    if (this.auth.expect !== undefined && !tokenMatches(this.auth.expect, frame.token)) {
      return this.refuse('auth-failed', messages.authRejected(frame.token !== undefined));
    }
    this.send(welcome(this.ctx.nodeId, this.ctx.metadata));
    this.open(frame.id, stringRecord(frame.meta));
  }

  private open(peerId: string, metadata: Record<string, string>): void {
    this.peerId = peerId;
    this.metadata = metadata;
    this.phase = 'open';
    this.ctx.host.linkOpened(this);
  }

  /** Tells the peer why before closing, so its client can report a clear error. */
  private refuse(reason: 'auth-failed' | 'protocol-error', why: string): void {
    this.send(reject(reason, why));
    this.fail(reason, why);
  }

  private unexpected(kind: string): void {
    this.fail('protocol-error', messages.unexpectedControlFrame(kind, this.phase));
  }

  private send(frame: ControlFrame): void {
    this.stats.controlBytesSent += this.transport.sendControl(frame);
  }
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}
