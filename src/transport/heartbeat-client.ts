import { Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ClientTCP, type TcpSocket } from '@nestjs/microservices';
import type { HeartbeatTicker } from '../detector/heartbeat-ticker.js';
import { PeerLostError } from '../errors/peer-lost.error.js';
import type { ResolvedClientOptions, ResolvedHeartbeatOptions } from '../interfaces/heartbeat-options.interface.js';
import type { PeerInfo } from '../interfaces/presence.interface.js';
import { isDeparture } from '../link/close-cause.js';
import { createLinkContext, type LinkContext } from '../link/link-context.js';
import type { PeerLink } from '../link/peer-link.js';
import type { PeerTable } from '../presence/peer-table.js';
import { HeartbeatSocket } from '../protocol/heartbeat-socket.js';
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
  private readonly reconnectLog: ReconnectLog;

  constructor(
    private readonly client: ResolvedClientOptions,
    options: ResolvedHeartbeatOptions,
    ticker: HeartbeatTicker,
    private readonly table: PeerTable,
  ) {
    const log = new Logger(`HeartbeatClient ${String(client.name)}`);
    const ctx = createLinkContext(options, ticker, table, log);
    const socketClass = HeartbeatSocket.withOptions({ maxFrameBytes: ctx.maxFrameBytes, now: () => ticker.now() });
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

  /** Resolves once connected and the server accepted the handshake. Turns automatic reconnection on. */
  override connect(): Promise<any> {
    this.autoReconnect = true;
    if (this.handshake) return this.handshake;
    // Once connected, the handshake of the link that connection made (createSocket set it).
    const handshake = super.connect().then(() => this.link!.opened);
    this.handshake = handshake;
    handshake.catch(() => {
      if (this.handshake === handshake) this.handshake = null;
    });
    return handshake;
  }

  /** Says goodbye (the server records `left`), closes, and stops reconnecting. */
  override close(): void {
    this.autoReconnect = false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.link?.sayGoodbye();
    super.close();
  }

  onApplicationBootstrap(): void {
    this.connect().catch(() => undefined); // logged and retried by the close handler
  }

  beforeApplicationShutdown(): void {
    this.close();
  }

  override createSocket(): TcpSocket {
    const framed = super.createSocket() as HeartbeatSocket;
    // The hello goes out on 'connect', before any user write: connect() resolves only after the welcome.
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

  /** Each callback fails in its own try/catch so one failure cannot strand the rest. */
  private failInFlight(link: PeerLink): void {
    if (this.routingMap.size === 0) return;
    const cause = link.cause!;
    const error = isDeparture(cause)
      ? new PeerLostError(link.peerId || this.target, 'left')
      : new PeerLostError(link.peerId || this.target, 'lost', cause as Exclude<typeof cause, 'goodbye' | 'local'>);
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
    const delay = backoffDelay(attempt, this.client.reconnect);
    const link = this.link;
    // One line per state change, not per attempt; the logger context names the client.
    this.logLine(link?.peerId
      ? this.reconnectLog.linkClosed(link.peerId, String(link.cause), delay, Date.now())
      : this.reconnectLog.attemptFailed(link?.lastError ?? 'closed', attempt, delay, Date.now()));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().then(() => (this.attempt = 0), () => undefined);
    }, delay);
  }

  private logLine(line: LogLine | undefined): void {
    if (line) this.log[line.level](line.message);
  }
}
