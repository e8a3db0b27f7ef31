import { CLOSE_GRACE_MS } from '../common/heartbeat.constants.js';
import * as messages from '../common/heartbeat.messages.js';
import { afterBeat, nextDue, pingDue, silenceVerdict, type LinkStatus } from '../detector/failure-detector.js';
import { NOT_TICKED, type TickTarget } from '../detector/heartbeat-ticker.js';
import { afterArrival, withRule, type LinkDetector } from '../detector/link-detector.js';
import { afterPing, NO_PINGS, tooManyPings, type PingRecord } from '../detector/ping-policy.js';
import { smoothRtt } from '../detector/rtt.js';
import type { CloseCause, LossReason, PeerStats } from '../interfaces/presence.interface.js';
import type { FrameListener, LinkTransport } from '../protocol/heartbeat-socket.js';
import {
  beatFrame, BYE, DRAIN, DRAINED, goAway, hello, isControlFrame, isValidBeat, reject, welcome,
  type ByeFrame, type ControlFrame, type HelloFrame, type PingFrame, type RejectFrame, type WelcomeFrame,
} from '../protocol/frames.js';
import { causeFromSocketError } from './close-cause.js';
import { DrainHandshake } from './drain-handshake.js';
import { answerHello, answerWelcome, type HandshakeStep } from './handshake.js';
import type { LinkAuth, LinkContext, LinkOwner, LinkPhase, LinkView } from './link-context.js';

export type { LinkAuth, LinkPhase };

/**
 * One connection's heartbeat session: handshake, ping/pong, silence verdicts, close cause.
 *
 * It is driven by frames from its socket and by the shared tick; it never owns a timer but the
 * close grace. Two verbs end it from outside, as `ws` has them: `close(cause)` (say what there
 * is to say, FIN, destroy after the grace) and `terminate(cause)` (destroy now). Its state is
 * private; the peer table reads it through `LinkView`, and its owner (the server or client) is
 * told when it opens, drains and closes.
 */
export class PeerLink implements FrameListener, LinkView, TickTarget {
  private _phase: LinkPhase = 'handshaking';
  private _status: LinkStatus = 'alive';
  private _peerId = '';
  private _metadata: Record<string, string> = {};
  private _incarnation = '';
  /** This link's detector (`heartbeat.detector`), under the context's rule or a slower one when the server set a ping floor. */
  private detector: LinkDetector;
  private _managed = true;
  /** Inbound: the drain handshake with the peer. */
  private readonly drains = new DrainHandshake();
  // Beat-time numbers start as numbers, not undefined: V8 then updates them in place (bench B2).
  private _lastHeardAt = 0;
  /** The smoothed RTT; NaN until the first sample. */
  private rtt = NaN;
  private _cause: CloseCause | undefined;
  private readonly _stats: PeerStats = { pingsSent: 0, pongsReceived: 0, suspectCount: 0, reconnects: 0, controlBytesSent: 0, controlBytesReceived: 0 };
  readonly connectedAt: number;
  /** When the link opened; undefined while handshaking and for links refused before. */
  private openedAt: number | undefined;
  /** The first socket error, code or message: the kernel's verdict when the socket closes. */
  private socketError: string | undefined;
  /** Armed when the link starts closing: the socket is destroyed when it runs out. */
  private cancelGrace: (() => void) | undefined;
  /** Outbound: the server's refusal (or ours of its welcome), for the handshake error. */
  private _refusal: { reason: string; message: string } | undefined;
  /** Inbound: a hello's claim is being checked (`server.authenticate` may take a while). */
  private checking = false;
  /** Closed by us while our hello was out: the first frame back gets our bye if it is a welcome, then FIN. */
  private byeOnWelcome = false;
  private seq = 0;
  /** Inbound: the peer's pings against the server's floor. */
  private pings: PingRecord = NO_PINGS;
  /** Clock reading before which no tick can have anything to do on this link (see onTick); 0 = the next tick. */
  private quietUntil = 0;
  /** The ticker's bookkeeping (see HeartbeatTicker). */
  tickSlot = NOT_TICKED;
  tickToken = -1;

  constructor(
    readonly direction: 'inbound' | 'outbound',
    readonly address: string,
    private readonly transport: LinkTransport,
    private readonly ctx: LinkContext,
    private readonly owner: LinkOwner,
    private readonly auth: LinkAuth = {},
  ) {
    this.connectedAt = this._lastHeardAt = ctx.clock.now();
    this.detector = ctx.detector;
    ctx.clock.add(this);
  }

  get phase(): LinkPhase { return this._phase; }
  get status(): LinkStatus { return this._status; }
  get peerId(): string { return this._peerId; }
  get metadata(): Readonly<Record<string, string>> { return this._metadata; }
  get incarnation(): string { return this._incarnation; }
  get managed(): boolean { return this._managed; }
  get lastHeardAt(): number { return this._lastHeardAt; }
  get rttMs(): number | undefined { return Number.isNaN(this.rtt) ? undefined : this.rtt; }
  get cause(): CloseCause | undefined { return this._cause; }
  get stats(): Readonly<PeerStats> { return this._stats; }
  /** The socket error that ended or is ending the link, for logs. */
  get lastError(): string | undefined { return this.socketError; }
  /** Outbound: the server's refusal (or ours of its welcome), when the handshake was refused. */
  get refusal(): Readonly<{ reason: string; message: string }> | undefined { return this._refusal; }
  /** Server side: requests read on this link whose last reply is not written yet. */
  get pendingRequests(): number { return this.transport.pendingRequests; }
  /** Whether the link ever opened (its peer joined the table through it). */
  get wasOpened(): boolean { return this.openedAt !== undefined; }

  /** Outbound: the socket connected, so say hello first, before any data. */
  start(): void {
    this.send(hello(this.ctx.nodeId, this.ctx.incarnation, this.ctx.metadata, this.auth.present));
    this.owner.linkConnected?.(this);
  }

  /**
   * Ends the link gracefully: `bye` when we leave (`local`, on an open link of a managed peer),
   * then FIN after what is queued, and the socket destroyed after the grace if the peer does not
   * close it. `why` is logged when given.
   */
  close(cause: CloseCause = 'local', why?: string): void {
    const sayBye = cause === 'local' && (this._phase === 'open' || this._phase === 'draining') && this._managed;
    // Our hello is out: the server may count us in already. Its welcome, if it comes within the
    // grace, gets a bye (the server sees us leave, not lost); the FIN follows either answer.
    this.byeOnWelcome = cause === 'local' && this._phase === 'handshaking' && this.direction === 'outbound';
    if (!this.beginClosing(cause)) return;
    if (sayBye) this.send(BYE);
    if (!this.byeOnWelcome) this.transport.end();
    this.logClosing(cause, why);
  }

  /** Ends the link at once: the socket is destroyed now. `why` is logged when given. */
  terminate(cause: CloseCause, why?: string): void {
    if (!this.beginClosing(cause)) return;
    this.transport.destroy();
    this.logClosing(cause, why);
  }

  /**
   * Inbound, when our server begins a graceful stop: the peer is told (when it understands
   * `drain`) to send nothing new; requests in flight finish; the server calls `close()` after.
   */
  drain(): void {
    if (this._phase !== 'open') return;
    this._phase = 'draining';
    if (this.drains.tell()) this.send(DRAIN);
  }

  /**
   * Inbound, draining: nothing more can come that needs an answer (the peer acknowledged the
   * drain, or cannot take part in one) and every request read has its last reply written.
   */
  get drainSettled(): boolean {
    return this._phase === 'draining' && !this.drains.awaited && this.transport.pendingRequests === 0;
  }

  onFrame(frame: Record<string, unknown>, length: number): boolean {
    // A closing link is deaf at once: frames already read in the same chunk are not processed
    // (one connection cannot try many tokens per read, nothing after bye is served).
    if (this._phase === 'closing' || this._phase === 'closed') return this.byeOnWelcome && this.answerLateWelcome(frame);
    const now = this.heard();
    if (!isControlFrame(frame)) return this.onDataFrame();
    this._stats.controlBytesReceived += length;
    this.onControlFrame(frame, now);
    return false;
  }

  /**
   * A ping or pong read as numbers: on an open link, handled without a frame object (the hot
   * path, bench B2); anywhere else, or with a negative RTT to refuse, as the frame JSON.parse makes.
   */
  onBeat(isPing: boolean, seq: number, t: number, rtt: number, length: number): void {
    if ((this._phase !== 'open' && this._phase !== 'draining') || rtt < 0) {
      this.onFrame(beatFrame(isPing, seq, t, rtt), length);
      return;
    }
    const now = this.heard();
    this._stats.controlBytesReceived += length;
    if (isPing) this.answerPing(seq, t, rtt, now);
    else this.takePong(seq, t, now);
  }

  /** Any frame arrived: the detector learns the gap, the silence ends. Returns the time. */
  private heard(): number {
    const now = this.ctx.clock.now();
    if (this._phase !== 'handshaking') this.detector = afterArrival(this.detector, now, this._lastHeardAt, this.ctx.clock);
    this._lastHeardAt = now;
    if (this._phase !== 'handshaking') this.setStatus(afterBeat(this._status));
    return now;
  }

  private answerLateWelcome(frame: Record<string, unknown>): false {
    this.byeOnWelcome = false;
    if (frame.$hb === 'welcome') this.send(BYE);
    this.transport.end();
    return false;
  }

  onProtocolError(error: Error): void {
    this.terminate('protocol-error', error.message);
  }

  /** The socket reported an error; the first one is the kernel's verdict on the close that follows. */
  onSocketError(error: NodeJS.ErrnoException): void {
    this.socketError ??= error?.code ?? error?.message;
  }

  /** The socket closed: the only place a link becomes `closed`. */
  onTransportClosed(): void {
    if (this._phase === 'closed') return;
    this._phase = 'closed';
    this._cause ??= causeFromSocketError(this.socketError);
    this.cancelGrace?.();
    this.ctx.clock.remove(this);
    if (this.openedAt !== undefined) this.ctx.reporter.closed(this);
    this.owner.linkClosed(this);
  }

  /** Called by the shared tick; returns when the tick can next have something to do here. */
  onTick(now: number): number {
    if (now < this.quietUntil) return this.quietUntil; // visited a little early (the wheel's slots are a tick wide)
    this.quietUntil = this.check(now);
    return this.quietUntil;
  }

  /** The tick's work: handshake deadline, slow reader, silence verdict, ping. Returns the next due time. */
  private check(now: number): number {
    switch (this._phase) {
      case 'handshaking':
        if (now - this.connectedAt <= this.ctx.handshakeTimeoutMs) return this.connectedAt + this.ctx.handshakeTimeoutMs;
        this.terminate('protocol-error', messages.handshakeTimedOut(this.ctx.handshakeTimeoutMs));
        return Infinity;
      case 'closing':
      case 'closed':
        return Infinity;
    }
    // Every open link, stock clients included: replies queue here for a peer that does not read.
    if (this.transport.writableLength > this.ctx.maxQueuedBytes) {
      this.terminate('protocol-error', messages.slowReader(this.transport.writableLength));
      return Infinity;
    }
    // Unmanaged: only the slow-reader check, once an interval.
    if (!this._managed) return now + this.detector.rule.pingAfterMs;
    const next = silenceVerdict(this._status, now - this._lastHeardAt, this.detector.rule, this.ctx.clock, this._lastHeardAt);
    if (next === 'lost') {
      this.terminate('heartbeat-timeout', messages.peerSilent(now - this._lastHeardAt));
      return Infinity;
    }
    this.setStatus(next);
    if (pingDue(now, this.transport.lastSentAt, this.detector.rule)) {
      this._stats.pingsSent++;
      this._stats.controlBytesSent += this.transport.sendPing(++this.seq, now, this.rtt);
    }
    return nextDue(this._status, this._lastHeardAt, this.transport.lastSentAt, now, this.detector.rule);
  }

  private onDataFrame(): boolean {
    if (this._phase !== 'handshaking' || this.direction === 'outbound') return true;
    // Inbound data before any hello: a stock ClientTCP, tracked by kernel keepalive only.
    if (this.checking) {
      this.unexpected('data');
      return false;
    }
    if (this.auth.authenticator && !this.auth.authenticator.admitsStockClients) {
      this.apply({ kind: 'refuse', reason: 'auth-failed', why: messages.authRejected(false) });
      return false;
    }
    this._managed = false;
    this.open(`tcp:${this.address}`, {});
    return true;
  }

  /**
   * Control frames by phase and direction: hello (inbound) and welcome/reject (outbound) only
   * while handshaking, drain (outbound) only when open, ping/pong/bye once open. Anything else,
   * a frame only the other side may send included, is a protocol error.
   */
  private onControlFrame(frame: ControlFrame, now: number): void {
    const kind: unknown = frame.$hb;
    if (this._phase === 'handshaking') {
      if (this.checking) return this.unexpected(kind); // nothing may come before our answer to its hello
      if (kind === 'hello' && this.direction === 'inbound') return this.onHello(frame as HelloFrame);
      if (kind === 'welcome' && this.direction === 'outbound') return this.onWelcome(frame as WelcomeFrame);
      if (kind === 'reject' && this.direction === 'outbound') return this.onReject(frame as RejectFrame);
      return this.unexpected(kind);
    }
    switch (kind) {
      case 'ping':
      case 'pong': {
        const beat = frame as PingFrame;
        if (!isValidBeat(beat)) return this.terminate('protocol-error', messages.malformedBeat(kind));
        return kind === 'ping' ? this.answerPing(beat.seq, beat.t, beat.rtt ?? NaN, now) : this.takePong(beat.seq, beat.t, now);
      }
      case 'bye':
        // The peer leaves: FIN after what is queued. A bye with a reason is the peer closing the
        // link on us (GOAWAY): a loss, not a departure.
        return this.close((frame as ByeFrame).reason === 'too-many-pings' ? 'too-many-pings' : 'goodbye');
      case 'drain':
        if (this.direction !== 'outbound' || this._phase !== 'open') return this.unexpected(kind);
        this._phase = 'draining';
        this.send(DRAINED); // before anything new can be queued: the owner stops sending on this link now
        return this.owner.linkDraining?.(this);
      case 'drained':
        return this.drains.acknowledge() ? undefined : this.unexpected(kind);
      default:
        return this.unexpected(kind);
    }
  }

  /** A well-formed ping (`rtt` NaN: none): the server's floor, the pong, the peer's RTT estimate. */
  private answerPing(seq: number, t: number, rtt: number, now: number): void {
    const floor = this.direction === 'inbound' ? this.ctx.minPingIntervalMs : undefined;
    if (floor) {
      this.pings = afterPing(this.pings, now, floor, this.ctx.clock.blockedSince(now - floor));
      if (tooManyPings(this.pings)) {
        // GOAWAY, then cut at once: a flooder gets no grace to keep flooding in.
        this.send(goAway('too-many-pings'));
        return this.terminate('too-many-pings', messages.tooManyPings(this.pings.strikes, floor));
      }
    }
    this._stats.controlBytesSent += this.transport.sendPong(seq, t);
    // The peer's own RTT estimate, for the side that only answers; no RTT exceeds the link's age.
    if (rtt <= now - this.connectedAt) this.rtt = rtt; // false for NaN
  }

  /** A well-formed pong: an RTT sample, and the tick put off when it answers our last ping. */
  private takePong(seq: number, t: number, now: number): void {
    // A sample from before this link or from the future is not a round trip of ours: ignored.
    if (seq > this.seq || t < this.connectedAt || t > now) return;
    this._stats.pongsReceived++;
    if (seq === this.seq) this.quietUntil = this.ctx.clock.putOff(this, nextDue(this._status, this._lastHeardAt, this.transport.lastSentAt, now, this.detector.rule), this.quietUntil, this.seq);
    const rtt = now - t;
    this.rtt = smoothRtt(this.rttMs, rtt);
    this.ctx.reporter.rttSampled(this, rtt);
  }

  /** Inbound: the hello is answered once its claim is checked (`server.authenticate` may take a while). */
  private onHello(frame: HelloFrame): void {
    const step = answerHello(frame, this.ctx, this.auth.authenticator, { certificate: this.transport.peerCertificate(), remoteAddress: this.address });
    if (!(step instanceof Promise)) return this.apply(step);
    this.checking = true;
    void step.then((s) => {
      this.checking = false;
      if (this._phase === 'handshaking') this.apply(s); // not if it timed out or closed meanwhile
    });
  }

  private onWelcome(frame: WelcomeFrame): void {
    this.apply(answerWelcome(frame, this.ctx, this.auth.expectNodeId, this.address));
  }

  private apply(step: HandshakeStep): void {
    switch (step.kind) {
      case 'fail':
        return this.terminate('protocol-error', step.why);
      case 'refuse':
        // Tells the peer why before closing, so its client can report a clear error.
        this.send(reject(step.reason, step.why));
        return this.close(step.reason, step.why);
      case 'decline':
        // The server already counts us in: we leave as a peer that says goodbye does.
        this._refusal = { reason: step.cause, message: step.why };
        this.send(BYE);
        return this.close(step.cause);
      case 'open':
        if (this.direction === 'inbound') {
          this.send(welcome(this.ctx.nodeId, this.ctx.incarnation, this.ctx.metadata, this.ctx.minPingIntervalMs));
          if (step.drains) this.drains.supported();
        } else if (step.rule !== this.ctx.rule) {
          this.detector = withRule(this.detector, step.rule);
          this.ctx.warnOnce('ping-floor', messages.pingFloorAdopted(this.address, step.rule.pingAfterMs, this.ctx.heartbeat.intervalMs));
        }
        this._incarnation = step.incarnation;
        return this.open(step.peerId, step.metadata);
    }
  }

  /** The server refused us; it closes right after. Its reason and message are kept for the handshake error. */
  private onReject(frame: RejectFrame): void {
    const cause = frame.reason === 'auth-failed' || frame.reason === 'superseded' ? frame.reason : 'protocol-error';
    this._refusal = { reason: cause, message: messages.peerText(frame.message) };
    // Not logged here: the client logs a refusal once, not on every attempt.
    this.terminate(cause);
  }

  private logClosing(cause: CloseCause, why: string | undefined): void {
    if (why !== undefined) this.ctx.peerLog.warn(cause, messages.closingConnection(this._peerId || this.address, why, cause));
  }

  private unexpected(kind: unknown): void {
    this.terminate('protocol-error', messages.unexpectedControlFrame(kind, this._phase));
  }

  private open(peerId: string, metadata: Record<string, string>): void {
    this._peerId = peerId;
    this._metadata = metadata;
    this._phase = 'open';
    this.openedAt = this.ctx.clock.now();
    this.transport.setFrameLimit(this.ctx.maxFrameBytes);
    this.wakeUp();
    this.ctx.reporter.opened(this);
    this.owner.linkOpened?.(this);
  }

  /**
   * Gives the link its cause, once, and arms the grace: from here on its socket is destroyed
   * within CLOSE_GRACE_MS whatever the peer sends or withholds and whatever throws later. Every
   * ending goes through here, so no link can stay open once it is ending.
   */
  private beginClosing(cause: CloseCause): boolean {
    if (this._phase === 'closing' || this._phase === 'closed') return false;
    this._phase = 'closing';
    this._cause = cause;
    this.cancelGrace = this.ctx.clock.after(CLOSE_GRACE_MS, () => this.transport.destroy());
    return true;
  }

  private setStatus(next: LinkStatus): void {
    if (next === this._status) return;
    this._status = next;
    this.wakeUp(); // alive again: the (lower) suspect threshold applies from the new beat
    if (next === 'suspect') this._stats.suspectCount++;
    if (this.openedAt !== undefined) this.ctx.reporter.changed(this);
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
