import { Logger } from '@nestjs/common';
import { ServerTCP, type BaseRpcContext, type ReadPacket } from '@nestjs/microservices';
import type { AddressInfo, Socket } from 'node:net';
import { netServerOf, reportListenFailure } from '../nest/tcp-internals.js';
import type { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import { PENDING_HANDSHAKE_EVICT_AFTER_MS } from '../common/heartbeat.constants.js';
import * as messages from '../common/heartbeat.messages.js';
import type { ResolvedHeartbeatOptions, ResolvedServerOptions } from '../options/resolved-options.js';
import { createLinkContext, type LinkContext, type LinkOwner, type LinkReporter, type LinkView } from '../link/link-context.js';
import { Authenticator } from '../link/authenticator.js';
import type { LinkAuth, PeerLink } from '../link/peer-link.js';
import { createFraming, HeartbeatSocket, type Framing } from '../protocol/heartbeat-socket.js';
import { attachLink, remoteAddress } from './attach-link.js';

/**
 * Pending connections the kernel queues for accept (capped by net.core.somaxconn). Node's default,
 * 511, overflows when thousands of peers reconnect at once after a restart (bench B5): the kernel
 * drops their SYNs and each dropped peer waits for TCP's SYN retry (1, 3, 7, 15, 31 s), far beyond
 * its own backoff.
 */
const LISTEN_BACKLOG = 8192;
const ROUTE_MEMO_ENTRIES = 1000;
/** Links told goodbye per turn of the event loop when the server closes. */
const GOODBYE_SLICE = 1024;
const ROUTE_MEMO_MAX_CHARS = 1024;
/** How often a draining server looks for links that have settled (a drain lasts milliseconds to seconds). */
const DRAIN_POLL_MS = 5;

/**
 * - `idle`: built, not listening yet; `listening`: accepting and serving;
 * - `draining`: `close()` began: no new connections, peers told to send nothing new, requests
 *   in flight finishing (up to `drainTimeoutMs`);
 * - `closing`: goodbyes going out; `closed`: every link told. A socket that arrives in any of
 *   the last three (a TLS handshake that completes late, say) is destroyed at once.
 */
export type ServerState = 'idle' | 'listening' | 'draining' | 'closing' | 'closed';

/**
 * Nest's TCP transport with presence: every accepted socket gets kernel keepalive options and a
 * heartbeat link. `@MessagePattern` / `@EventPattern` handlers work unchanged; heartbeat frames
 * never reach them. A stock ClientTCP is served too, tracked by kernel keepalive only.
 *
 * Provided by HeartbeatModule when `server` is configured; take it from DI:
 * `NestFactory.createMicroservice(AppModule, { inject: [HeartbeatServer], useFactory: (s) => ({ strategy: s }) })`.
 */
export class HeartbeatServer extends ServerTCP implements LinkOwner {
  /** Open and handshaking links; a link leaves when its socket closes. */
  private readonly links = new Set<PeerLink>();
  /** Route of each pattern string that has a handler (bounded: patterns come from the wire). */
  private readonly routes = new Map<string, string>();
  private readonly ctx: LinkContext;
  /** Shared by every accepted socket: nothing per socket but the socket, its framing and its link. */
  private readonly framing: Framing;
  private readonly auth: LinkAuth;
  private _state: ServerState = 'idle';
  private closing: Promise<void> | undefined;
  private readonly drainTimeoutMs: number;
  private readonly maxPendingHandshakes: number;
  /** Event handlers still running (requests are counted on their sockets). */
  private pendingEvents = 0;
  /** Links that have not finished their handshake, oldest first (insertion order): bounded by maxPendingHandshakes. */
  private readonly handshaking = new Set<PeerLink>();
  private readonly identityBound: boolean;
  private readonly authenticated: boolean;

  constructor(
    config: ResolvedHeartbeatOptions & { server: ResolvedServerOptions },
    ticker: HeartbeatTicker,
    table: LinkReporter,
  ) {
    const server = config.server;
    // A TLS connection reaches bindHandler (and its handshake deadline) only once TLS is
    // established: bound the TLS handshake itself by handshakeTimeoutMs too (Node's default: 120 s).
    const tlsOptions = server.tlsOptions && { handshakeTimeout: config.limits.handshakeTimeoutMs, ...server.tlsOptions };
    super({ host: server.host, port: server.port, tlsOptions });
    this.ctx = createLinkContext(config, ticker, table, new Logger(HeartbeatServer.name));
    const authenticator = new Authenticator(server.identity);
    this.auth = { authenticator };
    this.identityBound = authenticator.bound;
    this.authenticated = server.identity.mode !== 'none' || server.identity.certificate;
    this.drainTimeoutMs = server.drainTimeoutMs;
    this.maxPendingHandshakes = server.maxPendingHandshakes;
    const onHandlerError = (error: any) => this.handleError(error);
    // Events are counted until their handler settles (a drain waits for them): one promise each.
    const eventDone = () => void this.pendingEvents--;
    const eventFailed = (error: any) => {
      this.pendingEvents--;
      this.handleError(error);
    };
    this.framing = createFraming({
      maxFrameBytes: this.ctx.maxFrameBytes,
      now: () => ticker.now(),
      // What Nest's bindHandler does with each message, without its listeners per socket.
      onMessage: (socket, message) => {
        if (message.id !== undefined) {
          void this.handleMessage(socket, message).catch(onHandlerError);
          return;
        }
        this.pendingEvents++;
        void this.handleMessage(socket, message).then(eventDone, eventFailed);
      },
    });
    const net = netServerOf(this)!;
    // Node closes sockets over this at accept, before any of ours is made for them.
    net.maxConnections = server.maxConnections;
    if (tlsOptions) {
      // Node reports a failed or timed-out TLS handshake here but leaves the socket open.
      net.on('tlsClientError', (error: Error & { code?: string }, socket: Socket) => {
        this.ctx.peerLog.warn('tls', messages.closingConnection(remoteAddress(socket), messages.tlsHandshakeFailed(error.code ?? error.message), 'protocol-error'));
        socket.destroy();
      });
    }
  }

  /** Whether a peer can claim only its own nodeId here (bound identities: authTokens, authenticate, certificates). */
  get bindsIdentities(): boolean {
    return this.identityBound;
  }

  /** Nest's listen, with a backlog sized for a reconnect storm. */
  override listen(callback: (err?: unknown, ...optionalParams: unknown[]) => void): void {
    this.server.once('error', (err: NodeJS.ErrnoException) => {
      if (err?.code === 'EADDRINUSE' || err?.code === 'ECONNREFUSED') {
        reportListenFailure(this);
        callback(err);
      }
    });
    this._state = 'listening';
    if (!this.authenticated && !isLoopback(this.host)) this.ctx.logger.warn(messages.unauthenticatedServer(this.host));
    this.server.listen(this.port, this.host, LISTEN_BACKLOG, callback);
  }

  get state(): ServerState {
    return this._state;
  }

  /** The bound address once listening (useful with `port: 0`). */
  get address(): AddressInfo | undefined {
    const address = netServerOf(this)?.address();
    return typeof address === 'object' && address !== null ? address : undefined;
  }

  /** Links currently open or handshaking. */
  get connections(): number {
    return this.links.size;
  }

  /**
   * A graceful stop, as gRPC's: stops accepting (Nest's close), tells every managed peer it is
   * draining (it sends nothing new and connects again, maybe to another instance), lets the
   * requests in flight finish for up to `drainTimeoutMs`, then says goodbye to every peer and
   * sends FIN. The links that said goodbye are left to close when their peers answer, so this
   * returns once the last goodbye is out; each link cuts a peer that does not answer within its
   * close grace. Drain and goodbyes go out GOODBYE_SLICE links at a time, the event loop serving
   * other sockets in between: closing 20,000 links at once blocked it for ~0.7 s (bench B5),
   * long enough for the other links of the process to miss a beat.
   */
  override close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this._state = 'draining';
    this.ctx.reporter.shuttingDown();
    super.close();
    await this.inSlices((link) => link.drain());
    await this.drained();
    this._state = 'closing';
    await this.inSlices((link) => link.close('local'));
    this._state = 'closed';
  }

  /**
   * Says goodbye to each draining link as soon as it has settled (its peer acknowledged the
   * drain, or cannot take part in one, and every reply is out), and returns when every link has
   * and no event handler still runs, or when drainTimeoutMs has passed.
   */
  private async drained(): Promise<void> {
    const clock = this.ctx.clock;
    const deadline = clock.now() + this.drainTimeoutMs;
    for (;;) {
      let waiting = this.pendingEvents > 0;
      for (const link of this.links) {
        if (link.drainSettled) link.close('local');
        else if (link.phase === 'draining') waiting = true;
      }
      const left = deadline - clock.now();
      if (!waiting || left <= 0) return;
      await new Promise<void>((resolve) => clock.after(Math.min(DRAIN_POLL_MS, left), resolve, true));
    }
  }

  private async inSlices(step: (link: PeerLink) => void): Promise<void> {
    let done = 0;
    for (const link of [...this.links]) {
      step(link);
      if (++done % GOODBYE_SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /**
   * Nest parses every incoming pattern with JSON.parse inside try/catch, so a plain string
   * pattern throws and catches a SyntaxError per message: ~30 % of the server's CPU under load
   * (bench B1). The route depends on the pattern string alone, so remember it.
   */
  protected override getRouteFromPattern(pattern: string): string {
    let route = this.routes.get(pattern);
    if (route === undefined) {
      route = super.getRouteFromPattern(pattern);
      // Only patterns that reach a handler, and short ones: a peer cannot fill the memo with
      // unroutable or huge patterns (at most ROUTE_MEMO_ENTRIES × ROUTE_MEMO_MAX_CHARS).
      if (this.routes.size < ROUTE_MEMO_ENTRIES && pattern.length <= ROUTE_MEMO_MAX_CHARS && this.messageHandlers.has(route)) {
        this.routes.set(pattern, route);
      }
    }
    return route;
  }

  /**
   * Nest logs an event without a handler with its whole pattern: up to maxFrameBytes of the
   * peer's text, control characters included. Same verdict, escaped and cut.
   */
  override handleEvent(pattern: string, packet: ReadPacket, context: BaseRpcContext): Promise<any> {
    if (!this.getHandlerByPattern(pattern)) {
      this.ctx.peerLog.error('no-handler', messages.noEventHandler(pattern));
      return Promise.resolve();
    }
    return super.handleEvent(pattern, packet, context); // not wrapped in another async frame: a promise less per event
  }

  /**
   * Each accepted socket: framing and a link, and nothing else per socket. Nest's own bindHandler
   * adds three closures (its `message` and `error` listeners and the `openSockets` entry's
   * `close` listener); here data frames reach `handleMessage` through the shared framing
   * options, and `close()` ends every link. A socket's errors are the link's: the link reports
   * each as its peer's loss reason, where Nest would log every ECONNRESET of a crashed client as
   * an ERROR with a stack. `handleError` sees only a handler's errors and the listening socket's.
   */
  override bindHandler(socket: Socket): void {
    // After close() began (a TLS handshake that completed late), or over the handshake budget
    // with no slot old enough to give up: closed at accept.
    if (this._state !== 'listening' || !this.roomForHandshake()) {
      socket.destroy();
      return;
    }
    const framed = new HeartbeatSocket(socket, this.framing);
    const link = attachLink(framed, 'inbound', this.ctx, remoteAddress(socket), this, this.auth);
    if (link.phase === 'closed') return; // ended while attaching: linkClosed has run already
    this.links.add(link);
    if (link.phase === 'handshaking') this.handshaking.add(link);
  }

  /**
   * Under maxPendingHandshakes, or the longest-pending socket has had its chance
   * (PENDING_HANDSHAKE_EVICT_AFTER_MS of our loop free to read it: a server too busy to read a
   * hello waiting in a reconnect storm does not blame its sender) and makes room. Set order is
   * arrival order, so the oldest is the first entry: O(1).
   */
  private roomForHandshake(): boolean {
    if (this.handshaking.size < this.maxPendingHandshakes) return true;
    const oldest = this.handshaking.values().next().value;
    const clock = this.ctx.clock;
    if (!oldest || clock.now() - oldest.connectedAt - clock.blockedSince(oldest.connectedAt) < PENDING_HANDSHAKE_EVICT_AFTER_MS) return false;
    this.handshaking.delete(oldest);
    oldest.terminate('protocol-error', messages.handshakeEvicted(this.maxPendingHandshakes));
    return true;
  }

  /** Sockets accepted that have not finished their handshake. */
  get pendingHandshakes(): number {
    return this.handshaking.size;
  }

  /** @internal LinkOwner */
  linkOpened(link: LinkView): void {
    this.handshaking.delete(link as PeerLink);
  }

  /** @internal LinkOwner: a link's socket closed; the server forgets it. */
  linkClosed(link: LinkView): void {
    this.links.delete(link as PeerLink);
    this.handshaking.delete(link as PeerLink);
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || host === '::ffff:127.0.0.1';
}
