import {
  afterBeat, afterSilence, detectionRule, judgeSilence, nextDue, pingDue, type DetectionRule, type LinkStatus,
} from '../detector/failure-detector.js';
import { NOT_TICKED } from '../detector/heartbeat-ticker.js';
import { afterGap, linkDetector, type LinkDetector } from '../detector/link-detector.js';
import { smoothRtt } from '../detector/rtt.js';
import { HandshakeError } from '../errors/handshake.error.js';
import { CLOSE_GRACE_MS, MAX_PING_STRIKES } from '../common/heartbeat.constants.js';
import * as messages from '../common/heartbeat.messages.js';
import type { LossReason, PeerStats } from '../interfaces/presence.interface.js';
import type { FrameListener, LinkTransport } from '../protocol/heartbeat-socket.js';
import {
  BYE, goAway, hello, identityFrameProblem, isControlFrame, isValidBeat, ping, pong, PROTOCOL_VERSION, reject, welcome,
  type ByeFrame, type ControlFrame, type HelloFrame, type PingFrame, type PongFrame, type RejectFrame, type WelcomeFrame,
} from '../protocol/frames.js';
import { tokenMatches } from './auth-token.js';
import { causeFromSocketError, type CloseCause } from './close-cause.js';
import type { LinkContext, LinkView } from './link-context.js';

/**
 * A ping sooner than this fraction of the server's floor after the previous one is a strike. An
 * honest client pings at most half a tick (5 %) early; the rest is margin for network jitter.
 */
const PING_STRIKE_FRACTION = 0.75;

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
 * It is driven by frames from its socket and by the shared tick; it never owns a timer. Its
 * state is private; the peer table reads it through `LinkView` and is told when it opens,
 * changes status and closes.
 */
export class PeerLink implements FrameListener, LinkView {
  private _phase: LinkPhase = 'handshaking';
  private _status: LinkStatus = 'alive';
  private _peerId = '';
  private _metadata: Record<string, string> = {};
  private _incarnation = '';
  /** This link's detector (the options' kind), under the context's rule or a slower one when the server set a ping floor. */
  private detector: LinkDetector;
  private _managed = true;
  private _lastHeardAt: number;
  private _rttMs: number | undefined;
  private _cause: CloseCause | undefined;
  private readonly _stats: PeerStats = {
    pingsSent: 0, pongsReceived: 0, suspectCount: 0, reconnects: 0, controlBytesSent: 0, controlBytesReceived: 0,
  };
  readonly connectedAt: number;
  /**
   * `opened` and `closed` are made on first use: a server's links never wait on them, and
   * their promises, resolvers and reactions were ~0.5 KiB of every inbound peer (bench B2).
   */
  private _opened: Promise<void> | undefined;
  private _closed: Promise<void> | undefined;
  /** How the handshake ended: undefined while pending, true when welcomed, else the error. */
  private handshakeOutcome: true | Error | undefined;
  private resolveClosed: (() => void) | undefined;
  private resolveOpened: (() => void) | undefined;
  private rejectOpened: ((e: Error) => void) | undefined;
  /** The first socket error, code or message: the kernel's verdict when the socket closes. */
  private socketError: string | undefined;
  /** Armed when the link gets its cause: the socket is destroyed when it runs out. */
  private cancelGrace: (() => void) | undefined;
  /** Outbound: the server's refusal, for the handshake error. */
  private refusal: RejectFrame | undefined;
  private seq = 0;
  /** Inbound: when the peer last pinged, and how often it pinged sooner than the floor. */
  private lastPingAt = -Infinity;
  private pingStrikes = 0;
  /** Clock reading before which no tick can have anything to do on this link (see onTick); 0 = the next tick. */
  private quietUntil = 0;
  /** The ticker's bookkeeping (see HeartbeatTicker). */
  tickSlot = NOT_TICKED;

  constructor(
    readonly direction: 'inbound' | 'outbound',
    readonly address: string,
    private readonly transport: LinkTransport,
    private readonly ctx: LinkContext,
    private readonly auth: LinkAuth = {},
  ) {
    this.connectedAt = this._lastHeardAt = ctx.clock.now();
    this.detector = linkDetector(ctx.heartbeat.detector, ctx.rule, ctx.heartbeat.adaptiveLevels);
    ctx.clock.add(this);
  }

  /** Outbound: settles when the handshake completes or fails. */
  get opened(): Promise<void> {
    if (this._opened === undefined) {
      const outcome = this.handshakeOutcome;
      this._opened = outcome === true ? Promise.resolve()
        : outcome !== undefined ? Promise.reject(outcome)
          : new Promise<void>((resolve, rejectFn) => {
            this.resolveOpened = resolve;
            this.rejectOpened = rejectFn;
          });
      this._opened.catch(() => undefined); // callers that never await must not see an unhandled rejection
    }
    return this._opened;
  }

  /** Settles when the socket has closed. */
  get closed(): Promise<void> {
    this._closed ??= this._phase === 'closed' ? Promise.resolve() : new Promise<void>((resolve) => (this.resolveClosed = resolve));
    return this._closed;
  }

  get phase(): LinkPhase { return this._phase; }
  get status(): LinkStatus { return this._status; }
  get peerId(): string { return this._peerId; }
  get metadata(): Readonly<Record<string, string>> { return this._metadata; }
  get incarnation(): string { return this._incarnation; }
  get managed(): boolean { return this._managed; }
  get lastHeardAt(): number { return this._lastHeardAt; }
  get rttMs(): number | undefined { return this._rttMs; }
  get cause(): CloseCause | undefined { return this._cause; }
  get stats(): Readonly<PeerStats> { return this._stats; }
  /** The socket error that ended or is ending the link, for logs. */
  get lastError(): string | undefined { return this.socketError; }

  /** Outbound: the socket connected, so say hello first, before any data. */
  start(): void {
    this.send(hello(this.ctx.nodeId, this.ctx.incarnation, this.ctx.metadata, this.auth.present));
  }

  onFrame(frame: Record<string, unknown>, length: number): boolean {
    // A link that is ending is deaf at once: frames already read in the same chunk are not
    // processed (one connection cannot try many tokens per read, nothing after bye is served).
    if (this._phase === 'closed' || this._cause !== undefined) return false;
    const now = this.ctx.clock.now();
    // The adaptive detector learns the gap, less the time our own loop could not read.
    if (this.detector.kind === 'adaptive' && this._phase === 'open') {
      this.detector = afterGap(this.detector, now - this._lastHeardAt - this.ctx.clock.blockedSince(this._lastHeardAt));
    }
    this._lastHeardAt = now;
    if (this._phase === 'open') this.setStatus(afterBeat(this._status));
    if (!isControlFrame(frame)) return this.onDataFrame();
    this._stats.controlBytesReceived += length;
    this.onControlFrame(frame, now);
    return false;
  }

  onProtocolError(error: Error): void {
    this.fail('protocol-error', error.message);
  }

  /** Called by the shared tick; returns when the tick can next have something to do here. */
  onTick(now: number): number {
    if (now < this.quietUntil) return this.quietUntil; // visited a little early (the wheel's slots are a tick wide)
    this.quietUntil = this.check(now);
    return this.quietUntil;
  }

  /** The tick's work: handshake deadline, slow reader, silence verdict, ping. Returns the next due time. */
  private check(now: number): number {
    if (this._phase === 'handshaking') {
      if (now - this.connectedAt <= this.ctx.handshakeTimeoutMs) return this.connectedAt + this.ctx.handshakeTimeoutMs;
      this.fail('protocol-error', messages.handshakeTimedOut(this.ctx.handshakeTimeoutMs));
      return Infinity;
    }
    if (this._phase !== 'open') return Infinity;
    // Every open link, stock clients included: replies queue here for a peer that does not read.
    if (this.transport.writableLength > this.ctx.maxQueuedBytes) {
      this.fail('protocol-error', messages.slowReader(this.transport.writableLength));
      return Infinity;
    }
    const rule = this.detector.rule; // the thresholds in force
    // Unmanaged or ending: only the slow-reader check, once an interval.
    if (!this._managed || this._cause !== undefined) return now + rule.pingAfterMs;
    const silence = now - this._lastHeardAt;
    const next = afterSilence(this._status, judgeSilence(silence, rule, this.ctx.clock.blockedSince(this._lastHeardAt)));
    if (next === 'lost') {
      this.fail('heartbeat-timeout', messages.peerSilent(silence));
      return Infinity;
    }
    this.setStatus(next);
    if (pingDue(now, this.transport.lastSentAt, rule)) {
      this._stats.pingsSent++;
      this.send(ping(++this.seq, now, this._rttMs));
    }
    return nextDue(this._status, this._lastHeardAt, this.transport.lastSentAt, now, rule);
  }

  /** The socket reported an error; the first one is the kernel's verdict on the close that follows. */
  onSocketError(error: NodeJS.ErrnoException): void {
    this.socketError ??= error?.code ?? error?.message;
  }

  /** The socket closed. */
  onTransportClosed(): void {
    if (this._phase === 'closed') return;
    const wasOpen = this._phase === 'open';
    this._phase = 'closed';
    this._cause ??= causeFromSocketError(this.socketError);
    this.cancelGrace?.();
    this.ctx.clock.remove(this);
    this.ctx.released?.(this);
    this.resolveClosed?.();
    if (wasOpen) {
      this.ctx.reporter.closed(this);
    } else {
      const error = new HandshakeError(this._cause, this.handshakeFailure(this._cause));
      this.handshakeOutcome ??= error;
      this.rejectOpened?.(error);
    }
  }

  /** Graceful local close: goodbye, then FIN once it is flushed. */
  sayGoodbye(): void {
    if (this._phase === 'closed') return;
    if (this.endWith('local') && this._phase === 'open' && this._managed) this.send(BYE);
    this.transport.end();
  }

  /** The peer table ends the link: a new incarnation of its peer replaced it. */
  end(reason: LossReason): void {
    this.fail(reason, messages.replacedByNewIncarnation());
  }

  /** Closes the link for a loss reason, at once, with a logged reason. */
  fail(reason: LossReason, why: string): void {
    if (this._phase === 'closed' || !this.endWith(reason)) return;
    this.transport.destroy();
    this.ctx.logger.warn(messages.closingConnection(this._peerId || this.address, why, reason));
  }

  /**
   * Gives the link its cause, once. From here on its socket is destroyed within CLOSE_GRACE_MS
   * whatever the peer sends or withholds and whatever throws later: every ending goes through
   * here, so no link can stay open once it is ending.
   */
  private endWith(cause: CloseCause): boolean {
    if (this._cause !== undefined) return false;
    this._cause = cause;
    this.cancelGrace = this.ctx.clock.after(CLOSE_GRACE_MS, () => this.transport.destroy());
    return true;
  }

  private handshakeFailure(cause: CloseCause): string {
    if (cause === 'auth-failed' && this.refusal) return messages.authTokenRefused(this.address);
    if (this.refusal) return messages.handshakeRejected(this.address, this.refusal.reason, this.refusal.message);
    return messages.connectionClosed(this.address, this.socketError);
  }

  private setStatus(next: LinkStatus): void {
    if (next === this._status) return;
    this._status = next;
    this.wakeUp(); // alive again: the (lower) suspect threshold applies from the new beat
    if (next === 'suspect') this._stats.suspectCount++;
    this.ctx.reporter.changed(this);
  }

  private onDataFrame(): boolean {
    if (this._phase === 'open' || this.direction === 'outbound') return true;
    // Inbound data before any hello: a stock ClientTCP, tracked by kernel keepalive only.
    if (this.auth.expect !== undefined) {
      this.refuse('auth-failed', messages.authRejected(false));
      return false;
    }
    this._managed = false;
    this.open(`tcp:${this.address}`, {});
    return true;
  }

  /**
   * Control frames by phase and direction: hello (inbound) and welcome/reject (outbound) only
   * while handshaking, ping/pong/bye only once open. Anything else, a frame only the other side
   * may send included, is a protocol error.
   */
  private onControlFrame(frame: ControlFrame, now: number): void {
    const kind: unknown = frame.$hb;
    if (this._phase === 'handshaking') {
      if (kind === 'hello' && this.direction === 'inbound') return this.onHello(frame as HelloFrame);
      if (kind === 'welcome' && this.direction === 'outbound') return this.onWelcome(frame as WelcomeFrame);
      if (kind === 'reject' && this.direction === 'outbound') return this.onReject(frame as RejectFrame);
      return this.unexpected(kind);
    }
    switch (kind) {
      case 'ping':
        return this.onPing(frame as PingFrame, now);
      case 'pong':
        return this.onPong(frame as PongFrame, now);
      case 'bye':
        // The peer leaves: FIN after what is queued; the grace cuts a peer that never closes. A bye
        // with a reason is the peer closing the link on us (GOAWAY): a loss, not a departure.
        if (this.endWith((frame as ByeFrame).reason === 'too-many-pings' ? 'too-many-pings' : 'goodbye')) this.transport.end();
        return;
      default:
        return this.unexpected(kind);
    }
  }

  private onPing(frame: PingFrame, now: number): void {
    if (!isValidBeat(frame)) return this.fail('protocol-error', messages.malformedBeat('ping'));
    // gRPC's too_many_pings, done kindly: a client was told the floor in the welcome and follows
    // it; a peer that pings faster anyway is closed after MAX_PING_STRIKES strikes.
    const floor = this.direction === 'inbound' ? this.ctx.minPingIntervalMs : undefined;
    if (floor) {
      // Pings that queued while this process's own loop was blocked are read together, right after
      // it: not the peer's fault. No strike while a stall of ours ended within the last floor.
      const early = now - this.lastPingAt < floor * PING_STRIKE_FRACTION && this.ctx.clock.blockedSince(now - floor) === 0;
      this.lastPingAt = now;
      // Strikes in a row: one ping at an honest pace (a delayed segment delivered late, say) forgives.
      this.pingStrikes = early ? this.pingStrikes + 1 : 0;
      if (this.pingStrikes >= MAX_PING_STRIKES) {
        this.send(goAway('too-many-pings'));
        return this.fail('too-many-pings', messages.tooManyPings(this.pingStrikes, floor));
      }
    }
    this.send(pong(frame));
    // The peer's own RTT estimate, for the side that only answers; no RTT exceeds the link's age.
    if (frame.rtt !== undefined && frame.rtt <= now - this.connectedAt) this._rttMs = frame.rtt;
  }

  private onPong(frame: PongFrame, now: number): void {
    if (!isValidBeat(frame)) return this.fail('protocol-error', messages.malformedBeat('pong'));
    // A sample from before this link or from the future is not a round trip of ours: ignored.
    if (frame.seq > this.seq || frame.t < this.connectedAt || frame.t > now) return;
    this._stats.pongsReceived++;
    const rtt = now - frame.t;
    this._rttMs = smoothRtt(this._rttMs, rtt);
    this.ctx.reporter.rttSampled(this, rtt);
  }

  private onHello(frame: HelloFrame): void {
    if (frame.v !== PROTOCOL_VERSION) return this.refuse('protocol-error', messages.unsupportedProtocol(frame.v));
    const problem = identityFrameProblem(frame);
    if (problem) return this.refuse('protocol-error', messages.malformedIdentity('hello', problem));
    if (this.auth.expect !== undefined && !tokenMatches(this.auth.expect, frame.token)) {
      return this.refuse('auth-failed', messages.authRejected(frame.token !== undefined));
    }
    this.send(welcome(this.ctx.nodeId, this.ctx.incarnation, this.ctx.metadata, this.ctx.minPingIntervalMs));
    this._incarnation = frame.inc ?? '';
    this.open(frame.id, { ...frame.meta });
  }

  private onWelcome(frame: WelcomeFrame): void {
    if (frame.v !== PROTOCOL_VERSION) return this.fail('protocol-error', messages.unsupportedProtocol(frame.v));
    const problem = identityFrameProblem(frame);
    if (problem) return this.fail('protocol-error', messages.malformedIdentity('welcome', problem));
    const own = this.ctx.heartbeat.intervalMs;
    if (frame.minPing !== undefined && frame.minPing > own) {
      // The server's floor wins on this link, and detection follows the slower beat.
      this.detector = linkDetector(this.detector.kind, detectionRule({ ...this.ctx.heartbeat, intervalMs: frame.minPing }), this.ctx.heartbeat.adaptiveLevels);
      this.ctx.warnOnce('ping-floor', messages.pingFloorAdopted(this.address, frame.minPing, own));
    }
    this._incarnation = frame.inc ?? '';
    this.open(frame.id, { ...frame.meta });
    this.handshakeOutcome = true;
    this.resolveOpened?.();
  }

  /** The server refused us; it closes right after. Its reason and message are kept for the handshake error. */
  private onReject(frame: RejectFrame): void {
    const cause = frame.reason === 'auth-failed' ? 'auth-failed' : 'protocol-error';
    this.refusal = { $hb: 'reject', reason: cause, message: messages.peerText(frame.message) };
    // Not logged here: the client logs a refusal once, not on every attempt.
    if (this.endWith(cause)) this.transport.destroy();
  }

  private open(peerId: string, metadata: Record<string, string>): void {
    this._peerId = peerId;
    this._metadata = metadata;
    this._phase = 'open';
    this.wakeUp();
    this.ctx.reporter.opened(this);
  }

  /** Tells the peer why before closing, so its client can report a clear error. */
  private refuse(reason: 'auth-failed' | 'protocol-error', why: string): void {
    this.send(reject(reason, why));
    this.fail(reason, why);
  }

  private unexpected(kind: unknown): void {
    this.fail('protocol-error', messages.unexpectedControlFrame(kind, this._phase));
  }

  /** Something can be due sooner than the tick was told: the next tick looks at this link. */
  private wakeUp(): void {
    this.quietUntil = 0;
    this.ctx.clock.wake(this);
  }

  private send(frame: ControlFrame): void {
    this._stats.controlBytesSent += this.transport.sendControl(frame);
  }
}

