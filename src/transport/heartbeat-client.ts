import { Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ClientTCP, type TcpSocket } from '@nestjs/microservices';
import { connectable, defer, mergeMap, Subject, type Observable } from 'rxjs';
import type { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import type { PeerInfo, PeerStatus } from '../interfaces/presence.interface.js';
import { createLinkContext, type LinkContext, type LinkOwner } from '../link/link-context.js';
import type { PeerLink } from '../link/peer-link.js';
import type { ResolvedClientOptions, ResolvedHeartbeatOptions } from '../options/resolved-options.js';
import type { PeerTable } from '../presence/peer-table.js';
import { createFraming, HeartbeatSocket } from '../protocol/heartbeat-socket.js';
import { attachLink } from './attach-link.js';
import { ClientConnection, type ConnectionHost } from './client-connection.js';

/** Nest's error for requests failed by `close()` (what its own ClientTCP answers them with). */
const CLOSED = 'Connection closed';

/**
 * Nest's ClientTCP with presence: it handshakes, heartbeats, reconnects with capped exponential
 * backoff and jitter until `close()`, fails every request in flight with `PeerLostError` the
 * moment its peer is lost, and moves to a new connection at once when its server drains. It
 * connects at application bootstrap. The connection's states live in `ClientConnection`; this
 * class is its adapter to Nest's ClientTCP (sockets, request routing).
 */
export class HeartbeatClient extends ClientTCP
  implements OnApplicationBootstrap, BeforeApplicationShutdown, LinkOwner, ConnectionHost<PeerLink> {
  private readonly ctx: LinkContext;
  private readonly connection: ClientConnection<PeerLink>;
  private readonly target: string;
  /** The link createSocket made for the attempt being dialled. */
  private dialled: PeerLink | null = null;
  /** Requests in flight on a draining link when its drain began: theirs to answer or fail. */
  private readonly drainingRequests = new Map<PeerLink, string[]>();

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
    this.ctx = ctx;
    this.connection = new ClientConnection(this.target, client, this, ticker, log);
  }

  /** The server's nodeId once the handshake completed. */
  get peerId(): string | undefined {
    return this.connection.currentLink?.peerId || undefined;
  }

  /** The server as the presence table sees it. */
  get peer(): PeerInfo | undefined {
    const id = this.peerId;
    return id === undefined ? undefined : this.table.get(id);
  }

  /**
   * Starts the connection loop if it is not running, and resolves once the server accepted the
   * handshake. Rejects with `PeerUnavailableError` when the server cannot be reached (the cause,
   * e.g. ECONNREFUSED, in its message) and with `HandshakeError` when it refused us; the loop
   * goes on either way: connecting is the loop's job, on its backoff, never a caller's.
   */
  override connect(): Promise<any> {
    return this.connection.connect();
  }

  /**
   * Requests go out only on a live link. With none, the call waits for an attempt already under
   * way, else fails at once with `PeerUnavailableError`; with `waitForReadyMs`, it waits up to
   * that long for the link.
   */
  override send<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    // On a live link, Nest's path as it is: a wrapper cost a third more client CPU per request (B1).
    if (this.connection.state === 'ready') return super.send<TResult, TInput>(pattern, data);
    return defer(() => this.connection.whenReady()).pipe(mergeMap(() => super.send<TResult, TInput>(pattern, data)));
  }

  /** Like `send`; eager, as Nest's `emit` is: the event goes out (or fails) whether or not anyone subscribes. */
  override emit<TResult = any, TInput = any>(pattern: any, data: TInput): Observable<TResult> {
    if (this.connection.state === 'ready') return super.emit<TResult, TInput>(pattern, data);
    const source = connectable(defer(() => this.connection.whenReady()).pipe(mergeMap(() => super.emit<TResult, TInput>(pattern, data))),
      { connector: () => new Subject<TResult>(), resetOnDisconnect: false });
    source.connect();
    return source;
  }

  /** Says goodbye (the server records `left`), stops reconnecting, and fails what is in flight as Nest does. */
  override close(): void {
    this.connection.close();
    this.socket = null;
    this.connectionPromise = null;
    this.pendingEventListeners = [];
    this.drainingRequests.clear();
    this.failRequests([...this.routingMap.keys()], new Error(CLOSED));
  }

  onApplicationBootstrap(): void {
    this.connect().catch(() => undefined); // logged and retried by the connection loop
  }

  beforeApplicationShutdown(): void {
    this.close();
  }

  /** Each socket Nest makes becomes a link, owned by this client. */
  override createSocket(): TcpSocket {
    const framed = super.createSocket() as HeartbeatSocket;
    this.dialled = attachLink(framed, 'outbound', this.ctx, this.target, this, { present: this.client.authToken, expectNodeId: this.client.expectNodeId });
    return framed;
  }

  /**
   * A link's close is the connection's event (through LinkOwner), not Nest's: Nest would fail
   * every request of the client, those of a draining link's successor included. Only the status
   * stream is Nest's to update.
   */
  override registerCloseListener(socket: TcpSocket): void {
    socket.on('close', () => {
      if (this.socket === socket) this._status$.next('disconnected' as never);
    });
  }

  /**
   * Socket errors end the link, which reports them (a loss reason, a reconnect line): Nest would
   * log each one again as an ERROR with a stack, on every attempt.
   */
  override registerErrorListener(): void {
    // nothing: the link has the socket's error
  }

  // ConnectionHost: what the connection asks of Nest's client

  /** @internal One attempt: Nest's connect() on a fresh socket. */
  dial(): PeerLink {
    this.socket = null;
    this.connectionPromise = null;
    this.dialled = null;
    super.connect().catch(() => undefined); // its failure is the link's close
    return this.dialled!;
  }

  /** @internal */
  failInFlight(link: PeerLink, error: Error): void {
    const own = this.drainingRequests.get(link);
    if (own) {
      this.drainingRequests.delete(link);
      return this.failRequests(own, error);
    }
    // The ready link's: everything but what draining links still answer.
    const others = new Set([...this.drainingRequests.values()].flat());
    this.failRequests([...this.routingMap.keys()].filter((id) => !others.has(id)), error);
  }

  /** @internal */
  statusOf(peerId: string): PeerStatus | undefined {
    return this.table.status(peerId);
  }

  // LinkOwner: what the client's links tell it

  /** @internal */
  linkConnected(link: PeerLink): void {
    this.connection.connected(link);
  }

  /** @internal */
  linkOpened(link: PeerLink): void {
    this.connection.opened(link);
  }

  /** @internal Every request in flight now went out on this link: it answers them. */
  linkDraining(link: PeerLink): void {
    this.drainingRequests.set(link, [...this.routingMap.keys()]);
    this.connection.drained(link);
  }

  /** @internal */
  linkClosed(link: PeerLink): void {
    this.connection.closed(link);
    this.drainingRequests.delete(link);
  }

  /** Each callback fails in its own try/catch so one failure cannot strand the rest. */
  private failRequests(ids: string[], error: Error): void {
    for (const id of ids) {
      const callback = this.routingMap.get(id);
      if (!callback) continue;
      this.routingMap.delete(id);
      try {
        callback({ err: error });
      } catch (e) {
        this.ctx.logger.error(e);
      }
    }
  }
}
