import type { Logger } from '@nestjs/common';
import * as messages from '../common/heartbeat.messages.js';
import { HandshakeError } from '../errors/handshake.error.js';
import { PeerLostError } from '../errors/peer-lost.error.js';
import { PeerUnavailableError } from '../errors/peer-unavailable.error.js';
import type { CloseCause, LossReason, PeerStatus } from '../interfaces/presence.interface.js';
import { isDeparture } from '../link/close-cause.js';
import type { ResolvedClientOptions } from '../options/resolved-options.js';
import { Backoff } from './backoff.js';
import { ReconnectLog, type LogLine } from './reconnect-log.js';

/**
 * A client's connection, one state at a time:
 *
 *   idle ──connect──▶ connecting ──socket up──▶ handshaking ──welcome──▶ ready
 *                        ▲   │                      │                      │
 *                        │   └──────failed──────────┴──────▶ backoff ◀─────┤ link lost
 *                        └──────────timer───────────────────────┘          │
 *                        └──────────────── server drains: at once ─────────┘
 *   any ──close()──▶ closed ──connect──▶ connecting
 */
export type ConnectionState = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'closed';

/** What the connection needs of a link (PeerLink is one). */
export interface ConnectionLink {
  readonly peerId: string;
  readonly cause: CloseCause | undefined;
  /** The socket's first error (ECONNREFUSED, a certificate error…). */
  readonly lastError: string | undefined;
  /** The server's refusal, if it refused the handshake. */
  readonly refusal: { reason: string; message: string } | undefined;
  close(cause?: CloseCause): void;
}

/** The transport under the connection (HeartbeatClient on ClientTCP; an in-memory one in tests). */
export interface ConnectionHost<L extends ConnectionLink> {
  /** Opens one connection attempt and returns its link; its events come back through the connection's link methods. */
  dial(): L;
  /** Fails the requests in flight on `link` (and only those) with `error`. */
  failInFlight(link: L, error: Error): void;
  /** The peer's status in the presence table. */
  statusOf(peerId: string): PeerStatus | undefined;
}

/** The ticker's clock (virtual time in tests). */
export interface ConnectionClock {
  now(): number;
  after(ms: number, fn: () => void, keepAlive?: boolean): () => void;
}

/** One attempt's outcome, for the callers of `connect()` waiting on it. */
interface Attempt {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

function newAttempt(): Attempt {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // an attempt nobody waits for must not be an unhandled rejection
  return { promise, resolve, reject };
}

/** Refusals that will not go away by retrying fast: retried at maxDelayMs, said once. */
const REFUSALS: ReadonlySet<CloseCause> = new Set<CloseCause>(['auth-failed', 'superseded', 'identity-mismatch']);

/**
 * A HeartbeatClient's connection as a state machine on the ticker's clock: it dials (the only
 * place a connection is opened), backs off with jitter between attempts, reconnects at once when
 * the server drains, fails the requests of a lost link with `PeerLostError`, and answers a
 * request that finds no live link with `PeerUnavailableError` or a wait of up to
 * `waitForReadyMs`. Each transition names the states it may come from, as grpc-js's subchannel
 * does; an event that does not fit the current state is ignored.
 */
export class ClientConnection<L extends ConnectionLink> {
  private _state: ConnectionState = 'idle';
  /** The link of the current attempt, or the ready link. */
  private link: L | undefined;
  /** The last ready link that ended (why the peer went away), and the last attempt that failed (what it met). */
  private lastReady: L | undefined;
  private lastAttempt: L | undefined;
  /** Links whose server drains: their requests in flight still finish. */
  private readonly draining = new Set<L>();
  private attempt: Attempt | undefined;
  private readonly backoff: Backoff;
  private cancelRetry: (() => void) | undefined;
  /** Clock reading of the next attempt, in backoff. */
  private retryAt: number | undefined;
  /** The server's nodeId, once any handshake succeeded. */
  private everReached: string | undefined;
  /** The refusal logged for the current run of refusals (one line, not one per attempt). */
  private refusalLogged: CloseCause | undefined;
  private readonly waiters = new Set<{ resolve: () => void; reject: (e: Error) => void; cancel: () => void }>();
  private readonly reconnectLog: ReconnectLog;

  constructor(
    private readonly target: string,
    private readonly options: ResolvedClientOptions,
    private readonly host: ConnectionHost<L>,
    private readonly clock: ConnectionClock,
    private readonly logger: Logger,
    random?: () => number,
  ) {
    this.backoff = new Backoff(options.reconnect, random);
    this.reconnectLog = new ReconnectLog(target, options.reconnect);
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** The link requests go out on, when ready. */
  get readyLink(): L | undefined {
    return this._state === 'ready' ? this.link : undefined;
  }

  /** The current attempt's or the ready link. */
  get currentLink(): L | undefined {
    return this.link;
  }

  /**
   * Starts the loop if it is not running; resolves once ready. While an attempt is under way it
   * settles with that attempt (`PeerUnavailableError` if the server cannot be reached,
   * `HandshakeError` if it refused us); between attempts it fails at once with
   * `PeerUnavailableError`. The loop goes on either way.
   */
  connect(): Promise<void> {
    if (this._state === 'idle' || this._state === 'closed') this.dial();
    switch (this._state) {
      case 'ready':
        return Promise.resolve();
      case 'connecting':
      case 'handshaking':
        return this.attempt!.promise;
      default:
        return Promise.reject(this.unavailable());
    }
  }

  /**
   * For a request made with no live link: waits up to `waitForReadyMs` for one; without a wait,
   * an attempt under way is awaited and between attempts it fails at once.
   */
  whenReady(): Promise<void> {
    if (this._state === 'idle' || this._state === 'closed') this.dial();
    if (this._state === 'ready') return Promise.resolve();
    const waitMs = this.options.waitForReadyMs;
    if (waitMs > 0) return this.waitForReady(waitMs);
    if (this._state === 'connecting' || this._state === 'handshaking') {
      return this.attempt!.promise.then(() => undefined, () => Promise.reject(this.unavailable()));
    }
    return Promise.reject(this.unavailable());
  }

  /** Stops the loop: says goodbye on every link, fails whoever waits. `connect()` starts it again. */
  close(): void {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.stopRetry();
    const error = this.unavailable();
    this.link?.close('local');
    for (const link of this.draining) link.close('local');
    this.attempt?.reject(error);
    this.attempt = undefined;
    this.settleWaiters(error);
  }

  // the link's events

  /** The socket connected; the hello is out. */
  connected(link: L): void {
    if (link === this.link) this.transition(['connecting'], 'handshaking');
  }

  /** The server welcomed us. */
  opened(link: L): void {
    if (link !== this.link || !this.transition(['connecting', 'handshaking'], 'ready')) return;
    this.backoff.reset();
    this.refusalLogged = undefined;
    this.lastAttempt = undefined;
    this.everReached = link.peerId;
    this.write(this.reconnectLog.connected(link.peerId, this.clock.now()));
    this.attempt?.resolve();
    this.attempt = undefined;
    this.settleWaiters();
  }

  /** The server drains the ready link: nothing new goes out on it; connect again at once (the address may reach another instance now). */
  drained(link: L): void {
    if (link !== this.link || this._state !== 'ready') return;
    this.draining.add(link);
    this.link = undefined;
    this.logger.log(messages.clientPeerDraining(link.peerId, this.target));
    this.dial();
  }

  /** A link's socket closed. */
  closed(link: L): void {
    if (this.draining.delete(link)) {
      // Its requests were given the drain to finish; any still in flight went down with it.
      if (link.cause !== 'local') this.host.failInFlight(link, this.lostError(link));
      return;
    }
    if (link !== this.link) return; // an attempt already given up, or closed by close()
    this.link = undefined;
    const state = this._state;
    if (state === 'ready') this.lastReady = link;
    else this.lastAttempt = link;
    if (state === 'ready') {
      if (link.cause !== 'local') this.host.failInFlight(link, this.lostError(link));
      const delay = this.retryDelay(link);
      this.write(this.reconnectLog.linkClosed(link.peerId, String(link.cause), delay, this.clock.now()));
      this.retryIn(delay);
    } else if (state === 'connecting' || state === 'handshaking') {
      const attempt = this.backoff.attempt;
      const delay = this.retryDelay(link);
      if (!REFUSALS.has(link.cause!)) {
        this.write(this.reconnectLog.attemptFailed(link.lastError ?? String(link.cause ?? 'closed'), attempt, delay, this.clock.now()));
      }
      this.retryIn(delay);
      // Never connected: the server is unreachable; connected, then closed or refused: the handshake failed.
      this.attempt?.reject(state === 'connecting' ? this.unavailable() : this.handshakeError(link));
      this.attempt = undefined;
    }
  }

  // the loop

  /** One attempt: the only place a connection is opened. */
  private dial(): void {
    this.stopRetry();
    this._state = 'connecting';
    this.attempt ??= newAttempt();
    this.link = this.host.dial();
  }

  private retryIn(delayMs: number): void {
    this._state = 'backoff';
    this.retryAt = this.clock.now() + delayMs;
    // Kept alive: a client waiting to reconnect is work the process still has.
    this.cancelRetry = this.clock.after(delayMs, () => {
      this.cancelRetry = undefined;
      if (this._state === 'backoff') this.dial();
    }, true);
  }

  private stopRetry(): void {
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    this.retryAt = undefined;
  }

  /**
   * The delay before the next attempt: the backoff's, except for a refusal that retrying fast
   * will not cure (maxDelayMs, said once) and a server that cut us for pinging too fast (it
   * asked for calm: at least maxDelayMs).
   */
  private retryDelay(link: L): number {
    const { maxDelayMs } = this.options.reconnect;
    const cause = link.cause!;
    if (REFUSALS.has(cause)) {
      if (this.refusalLogged !== cause) this.logger.error(this.refusalNotice(link, maxDelayMs));
      this.refusalLogged = cause;
      return maxDelayMs;
    }
    const delay = this.backoff.next();
    return cause === 'too-many-pings' ? Math.max(delay, maxDelayMs) : delay;
  }

  private refusalNotice(link: L, delayMs: number): string {
    if (link.cause === 'auth-failed') return messages.authRetryNotice(this.target, delayMs, this.options.authToken !== undefined);
    return `${this.handshakeError(link).message}; retrying every ${delayMs} ms (logged once)`;
  }

  private transition(from: readonly ConnectionState[], to: ConnectionState): boolean {
    if (!from.includes(this._state)) return false;
    this._state = to;
    return true;
  }

  // waiting and errors

  private waitForReady(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        cancel: this.clock.after(ms, () => {
          this.waiters.delete(waiter);
          reject(this.unavailable());
        }, true),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves every waiting call (ready), or fails them with `error`. */
  private settleWaiters(error?: Error): void {
    for (const waiter of this.waiters) {
      waiter.cancel();
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
    this.waiters.clear();
  }

  /** Why there is no link now, and when the next attempt is. */
  unavailable(): PeerUnavailableError {
    const cause = this.lastReady?.cause;
    const reason = cause !== undefined && !isDeparture(cause) ? cause as LossReason : undefined;
    const status = (this.everReached && this.host.statusOf(this.everReached)) || 'unknown';
    const nextAttemptInMs = this._state === 'connecting' || this._state === 'handshaking' ? 0
      : this.retryAt === undefined ? undefined : Math.max(0, this.retryAt - this.clock.now());
    const attempt = this.lastAttempt;
    const detail = attempt === undefined || this._state === 'ready' ? undefined
      : attempt.refusal ? this.handshakeError(attempt).message : attempt.lastError ?? attempt.cause;
    return new PeerUnavailableError(this.everReached, status, reason, nextAttemptInMs, this.target, detail);
  }

  private handshakeError(link: L): HandshakeError {
    const cause = link.cause ?? 'closed-without-goodbye';
    if (cause === 'auth-failed' && link.refusal) {
      return new HandshakeError(cause, messages.authTokenRefused(this.target, this.options.authToken !== undefined));
    }
    // Refusals that name the nodeId and both processes say it best themselves.
    if (cause === 'superseded' || cause === 'identity-mismatch') return new HandshakeError(cause, link.refusal?.message ?? cause);
    if (link.refusal) return new HandshakeError(cause, messages.handshakeRejected(this.target, link.refusal.reason, link.refusal.message));
    return new HandshakeError(cause, messages.connectionClosed(this.target, link.lastError));
  }

  /** The error of the requests in flight on a link that ended. */
  private lostError(link: L): PeerLostError {
    const cause = link.cause!;
    const peer = link.peerId || this.target;
    if (isDeparture(cause)) return new PeerLostError(peer, 'left');
    // Inside a resume window the peer is only suspect, but these requests went down with the link.
    const resuming = link.peerId !== '' && this.host.statusOf(link.peerId) === 'suspect';
    return new PeerLostError(peer, resuming ? 'suspect' : 'lost', cause as LossReason);
  }

  private write(line: LogLine | undefined): void {
    if (line) this.logger[line.level](line.message);
  }
}
