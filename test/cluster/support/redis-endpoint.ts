import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from '../../../lab/ports.js';

/**
 * One address for "the Redis primary", as a managed Redis gives (a DNS name or a virtual IP that
 * follows the primary): a TCP forwarder whose target can be switched. Connections already open
 * stay where they were, as they do when DNS moves: after a coordinated failover they are left on
 * the demoted primary, whose writes answer READONLY.
 */
export class RedisEndpoint {
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number, private target: number | undefined) {}

  /** `target` undefined: shut (every connection is closed at once, as a refused one) until `switchTo`. */
  static async start(target?: number): Promise<RedisEndpoint> {
    const port = await freePort();
    let endpoint!: RedisEndpoint;
    const server = createServer((client) => {
      if (endpoint.target === undefined) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: '127.0.0.1', port: endpoint.target });
      for (const s of [client, upstream]) {
        endpoint.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          endpoint.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    endpoint = new RedisEndpoint(server, port, target);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return endpoint;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** New connections go to `port` from now on. */
  switchTo(port: number): void {
    this.target = port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
