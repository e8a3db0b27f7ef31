import { Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ClientTCP, type TcpSocket } from '@nestjs/microservices';
import { connectable, defer, mergeMap, Subject, type Observable } from 'rxjs';
import type { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import { PeerLostError } from '../errors/peer-lost.error.js';
import { PeerUnavailableError } from '../errors/peer-unavailable.error.js';
import * as messages from '../common/heartbeat.messages.js';
import type { ResolvedClientOptions, ResolvedHeartbeatOptions } from '../options/resolved-options.js';
import type { LossReason, PeerInfo } from '../interfaces/presence.interface.js';
import { isDeparture } from '../link/close-cause.js';
import { createLinkContext, type LinkContext } from '../link/link-context.js';
import type { PeerLink } from '../link/peer-link.js';
import type { PeerTable } from '../presence/peer-table.js';
import { createFraming, HeartbeatSocket } from '../protocol/heartbeat-socket.js';
import { attachLink } from './attach-link.js';
import { backoffDelay } from './backoff.js';
import { ReconnectLog, type LogLine } from './reconnect-log.js';

/**
 * Nest's ClientTCP with presence: it handshakes, heartbeats, reconnects with capped exponential
 * backoff and jitter until `close()`, and fails every request in flight with `PeerLostError` the
 * moment its peer is lost. It connects at application bootstrap.
 */
export class HeartbeatClient extends ClientTCP implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly ctx: LinkContext;
  private readonly log: Logger;
  private readonly target: string;
  private link: PeerLink | null = null;
  private handshake: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private autoReconnect = false;
  /** Epoch ms of the next attempt while the reconnect timer runs. */
  private nextAttemptAt: number | undefined;
  /** The server's nodeId, once any handshake succeeded. */
  private everReached: string | undefined;
  private refusalLogged = false;
  /** Calls waiting (up to waitForReadyMs) for the link. */
  private readonly waiters = new Set<{ resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly reconnectLog: ReconnectLog;

  constructor(
    private readonly client: ResolvedClientOptions,
    options: ResolvedHeartbeatOptions,
    ticker: HeartbeatTicker,
    private readonly table: PeerTable,
  ) {
    const log = new Logger(`HeartbeatClient ${String(client.name)}`);
    const ctx = createLinkContext(options, ticker, table, log);
    const socketClass = HeartbeatSocket.withOptions(createFraming({ maxFrameBytes: ctx.maxFrameBytes, now: () => ticker.now() }));
    super({ host: client.host, port: client.port, tlsOptions: client.tlsOptions, socketClass });
    this.target = `${client.host}:${client.port}`;
    this.log = log;
    this.ctx = ctx;
    this.reconnectLog = new ReconnectLog(this.target, client.reconnect);
  }

  /** The server's nodeId once the handshake completed. */
  get peerId(): string | undefined {
    return this.link?.peerId || undefined;
  }

  /** The server as the presence table sees it. */
  get peer(): PeerInfo | undefined {
    return this.peerId === undefined ? undefined : this.table.get(this.peerId);
  }

  /**
   * Starts the connection loop if it is not running, and resolves once the link is open (the
   * server accepted the handshake). Between two attempts of the loop it fails at once with
   * `PeerUnavailableError`: connecting is the loop's job, on its backoff, never a caller's.
   */
  override connect(): Promise<any> {
    if (!this.autoReconnect) {
      this.autoReconnect = true;
      if (!this.reconnectTimer && !this.handshake) this.dial();
    }
    if (this.isReady()) return Promise.resolve();
    if (this.handshake) return this.handshake;
    return Promise.reject(this.unavailable());
  }

  /**
   * Requests go out only on a live link. With none, the call waits for an attempt already under
   * way, else fails at once with `PeerUnavailableError`; with `waitForReadyMs`, it waits up to
   * that long for the link.
   */
  override send<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    // On a live link, Nest's path as it is: the wrapper below cost a third more client CPU per request (B1).
    if (this.isReady()) return super.send<TResult, TInput>(pattern, data);
    return defer(() => this.whenReady()).pipe(mergeMap(() => super.send<TResult, TInput>(pattern, data)));
  }

  /** Like `send`; eager, as Nest's `emit` is: the event goes out (or fails) whether or not anyone subscribes. */
  override emit<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    if (this.isReady()) return super.emit<TResult, TInput>(pattern, data);
    const source = connectable(defer(() => this.whenReady()).pipe(mergeMap(() => super.emit<TResult, TInput>(pattern, data))),
      { connector: () => new Subject<TResult>(), resetOnDisconnect: false });
    source.connect();
    return source;
  }

  /** Says goodbye (the server records `left`), closes, and stops reconnecting. */
  override close(): void {
    this.autoReconnect = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.nextAttemptAt = undefined;
    this.link?.sayGoodbye();
    super.close();
    this.settleWaiters(this.unavailable());
  }

  onApplicationBootstrap(): void {
    this.connect().catch(() => undefined); // logged and retried by the close handler
  }

  beforeApplicationShutdown(): void {
    this.close();
  }

  override createSocket(): TcpSocket {
    const framed = super.createSocket() as HeartbeatSocket;
    // The hello goes out on 'connect', before any user write: the link is ready only after the welcome.
    const link = attachLink(framed, 'outbound', this.ctx, this.target, { present: this.client.authToken });
    void link.opened.then(() => this.logLine(this.reconnectLog.connected(link.peerId, Date.now())), () => undefined);
    this.link = link;
    return framed;
  }

  override handleClose(): void {
    const link = this.link;
    if (link?.phase === 'closed' && link.cause !== 'local') this.failInFlight(link);
    this.handshake = null;
    super.handleClose();
    this.scheduleReconnect();
  }

  /**
   * Socket errors end the link, which reports them (a loss reason, a reconnect line): Nest would
   * log each one again as an ERROR with a stack, on every attempt.
   */
  override handleError(err: any): void {
    if (typeof err?.code !== 'string') super.handleError(err);
  }

  /** One attempt of the loop: the only place a connection is opened. */
  private dial(): void {
    this.nextAttemptAt = undefined;
    // Once connected, the handshake of the link that connection made (createSocket set it).
    const handshake = super.connect().then(() => this.link!.opened);
    this.handshake = handshake;
    handshake.then(
      () => {
        this.attempt = 0;
        this.refusalLogged = false;
        this.everReached = this.link?.peerId || this.everReached;
        this.settleWaiters();
      },
      () => {
        if (this.handshake === handshake) this.handshake = null;
      },
    );
  }

  private isReady(): boolean {
    return this.link !== null && this.link.phase === 'open' && this.link.cause === undefined;
  }

  private whenReady(): Promise<void> {
    if (!this.autoReconnect) this.connect().catch(() => undefined);
    if (this.isReady()) return Promise.resolve();
    const waitMs = this.client.waitForReadyMs;
    if (waitMs <= 0 || !this.autoReconnect) {
      // An attempt under way (bounded by handshakeTimeoutMs) is awaited; between attempts, fail at once.
      if (this.handshake) return this.handshake.then(() => undefined, () => Promise.reject(this.unavailable()));
      return Promise.reject(this.unavailable());
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject, timer: setTimeout(() => {
        this.waiters.delete(waiter);
        reject(this.unavailable());
      }, waitMs) };
      this.waiters.add(waiter);
    });
  }

  /** Resolves every waiting call (the link is open), or fails them with `error`. */
  private settleWaiters(error?: Error): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
    this.waiters.clear();
  }

  private unavailable(): PeerUnavailableError {
    const cause = this.link?.cause;
    const reason = cause !== undefined && !isDeparture(cause) ? cause as LossReason : undefined;
    const status = (this.everReached && this.table.status(this.everReached)) || 'unknown';
    const nextAttemptInMs = this.handshake ? 0
      : this.nextAttemptAt === undefined ? undefined : Math.max(0, this.nextAttemptAt - Date.now());
    return new PeerUnavailableError(this.everReached, status, reason, nextAttemptInMs, this.target);
  }

  /** Each callback fails in its own try/catch so one failure cannot strand the rest. */
  private failInFlight(link: PeerLink): void {
    if (this.routingMap.size === 0) return;
    const cause = link.cause!;
    // Inside a resume window the peer is only suspect, but these requests went down with the link.
    const resuming = link.peerId !== '' && this.table.status(link.peerId) === 'suspect';
    const error = isDeparture(cause)
      ? new PeerLostError(link.peerId || this.target, 'left')
      : new PeerLostError(link.peerId || this.target, resuming ? 'suspect' : 'lost', cause as LossReason);
    const callbacks = [...this.routingMap.values()];
    this.routingMap.clear();
    for (const callback of callbacks) {
      try {
        callback({ err: error });
      } catch (e) {
        this.log.error(e);
      }
    }
  }

  private scheduleReconnect(): void {
    if (!this.autoReconnect || this.reconnectTimer) return;
    const attempt = this.attempt++;
    const link = this.link;
    let delay = backoffDelay(attempt, this.client.reconnect);
    if (link?.cause === 'auth-failed') {
      // A refused token will not start working on its own: retry at the slowest pace, say so once.
      delay = this.client.reconnect.maxDelayMs;
      if (!this.refusalLogged) this.log.error(messages.authRetryNotice(this.target, delay));
      this.refusalLogged = true;
    } else {
      // The server cut us for pinging too fast: it asked for calm, so wait at least maxDelayMs.
      if (link?.cause === 'too-many-pings') delay = Math.max(delay, this.client.reconnect.maxDelayMs);
      // One line per state change, not per attempt; the logger context names the client.
      this.logLine(link?.peerId
        ? this.reconnectLog.linkClosed(link.peerId, String(link.cause), delay, Date.now())
        : this.reconnectLog.attemptFailed(link?.lastError ?? String(link?.cause ?? 'closed'), attempt, delay, Date.now()));
    }
    this.nextAttemptAt = Date.now() + delay;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.dial();
    }, delay);
  }

  private logLine(line: LogLine | undefined): void {
    if (line) this.log[line.level](line.message);
  }
}
