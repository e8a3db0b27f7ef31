import { Logger } from '@nestjs/common';
import { ServerTCP, type TcpSocket } from '@nestjs/microservices';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { HeartbeatDetector } from '../detector/heartbeat-detector.js';
import { GOODBYE_GRACE_MS } from '../heartbeat.constants.js';
import type { ResolvedHeartbeatOptions, ResolvedServerOptions } from '../heartbeat-options.js';
import { bindLink, remoteAddress } from '../link/bind-link.js';
import { createLinkContext } from '../link/link-context.js';
import type { LinkHost } from '../link/link-host.js';
import { PeerLink, type LinkContext } from '../link/peer-link.js';
import { HeartbeatSocket } from '../protocol/heartbeat-socket.js';
import { applyKeepAlive } from './keepalive.js';

/**
 * Nest's TCP transport with presence: every accepted socket gets kernel keepalive options and a
 * heartbeat link. `@MessagePattern` / `@EventPattern` handlers work unchanged; heartbeat frames
 * never reach them. A stock ClientTCP is served too, tracked by kernel keepalive only.
 *
 * Provided by HeartbeatModule when `server` is configured; take it from DI:
 * `NestFactory.createMicroservice(AppModule, { inject: [HeartbeatServer], useFactory: (s) => ({ strategy: s }) })`.
 */
export class HeartbeatServer extends ServerTCP {
  private readonly links = new Set<PeerLink>();
  private readonly ctx: LinkContext;
  private readonly serverOptions: ResolvedServerOptions;

  constructor(private readonly config: ResolvedHeartbeatOptions, detector: HeartbeatDetector, host: LinkHost) {
    const server = config.server ?? { host: '127.0.0.1', port: 3000, maxFrameBytes: config.maxFrameBytes, handshakeTimeoutMs: config.handshakeTimeoutMs };
    super({ host: server.host, port: server.port, tlsOptions: server.tlsOptions });
    this.serverOptions = server;
    this.ctx = createLinkContext(config, detector, host, new Logger(HeartbeatServer.name));
  }

  /** The bound address once listening (useful with `port: 0`). */
  get address(): AddressInfo | undefined {
    const address = (this.server as unknown as Server | undefined)?.address();
    return typeof address === 'object' && address !== null ? address : undefined;
  }

  /** Links currently open or handshaking. */
  get connections(): number {
    return this.links.size;
  }

  /** Goodbye to every peer, a short grace for them to close, then Nest's close (which destroys the rest). */
  override async close(): Promise<void> {
    const links = [...this.links];
    for (const link of links) link.sayGoodbye();
    if (links.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(links.map((l) => l.closed)),
        new Promise((resolve) => (timer = setTimeout(resolve, GOODBYE_GRACE_MS))),
      ]);
      clearTimeout(timer);
    }
    super.close();
  }

  protected override getSocketInstance(socket: Socket): TcpSocket {
    applyKeepAlive(socket, this.config.keepAlive);
    const framed = new HeartbeatSocket(socket);
    const link = new PeerLink('inbound', remoteAddress(socket), framed, this.ctx, { expect: this.serverOptions.authToken });
    bindLink(framed, link, this.ctx, this.serverOptions.maxFrameBytes);
    this.links.add(link);
    void link.closed.then(() => this.links.delete(link));
    return framed;
  }
}
