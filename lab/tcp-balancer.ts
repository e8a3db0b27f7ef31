/**
 * The lab's stand-in for a Kubernetes Service (demo and benchmarks): one address in front of a
 * changing set of endpoints. Each new connection goes to the next endpoint, round robin; taking
 * an endpoint out (a pod that is terminating, or not ready) sends no new connection to it and
 * leaves its open connections alone, as kube-proxy does (conntrack keeps established flows).
 *
 * It is a userspace proxy (kube-proxy's iptables mode rewrites addresses instead), so the
 * server sees the balancer's address, not the client's; nothing here looks into the bytes. An
 * end that closes closes the other (FIN for FIN); an end that is reset resets the other; a
 * connection that arrives with no endpoint is reset (a Service without endpoints refuses it).
 */
import net from 'node:net';

export interface Endpoint {
  host: string;
  port: number;
}

const key = (e: Endpoint) => `${e.host}:${e.port}`;

export class TcpBalancer {
  private readonly endpoints: Endpoint[] = [];
  private next = 0;
  private readonly sockets = new Set<net.Socket>();
  /** Connections opened to each endpoint (by `host:port`), for reports. */
  readonly opened = new Map<string, number>();
  /** Connections reset because no endpoint was there. */
  refused = 0;

  private constructor(private readonly server: net.Server) {}

  static async start(host = '127.0.0.1', port = 0): Promise<TcpBalancer> {
    const server = net.createServer({ noDelay: true });
    const balancer = new TcpBalancer(server);
    server.on('connection', (socket) => balancer.accept(socket));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
    return balancer;
  }

  get address(): Endpoint {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** The endpoint receives new connections from now on. */
  add(endpoint: Endpoint): void {
    if (!this.endpoints.some((e) => key(e) === key(endpoint))) this.endpoints.push({ ...endpoint });
  }

  /** No new connection goes to the endpoint; its open ones stay. */
  remove(endpoint: Endpoint): void {
    const at = this.endpoints.findIndex((e) => key(e) === key(endpoint));
    if (at >= 0) this.endpoints.splice(at, 1);
  }

  list(): Endpoint[] {
    return this.endpoints.map((e) => ({ ...e }));
  }

  /** Stops listening and resets every proxied connection. */
  close(): Promise<void> {
    for (const s of this.sockets) s.resetAndDestroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private accept(downstream: net.Socket): void {
    const endpoint = this.endpoints.length ? this.endpoints[this.next++ % this.endpoints.length] : undefined;
    if (!endpoint) {
      this.refused++;
      downstream.on('error', () => undefined).resetAndDestroy();
      return;
    }
    this.opened.set(key(endpoint), (this.opened.get(key(endpoint)) ?? 0) + 1);
    const upstream = net.connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    this.join(downstream, upstream);
  }

  /** Bytes both ways; an end's FIN, reset or error is passed to the other end. */
  private join(a: net.Socket, b: net.Socket): void {
    for (const [from, to] of [[a, b], [b, a]] as const) {
      this.sockets.add(from);
      from.pipe(to);
      from.on('error', (error: NodeJS.ErrnoException) => {
        // A reset (or a refused upstream) is passed on as a reset; anything else as a close.
        if (error.code === 'ECONNRESET' || error.code === 'ECONNREFUSED' || error.code === 'ECONNABORTED') to.resetAndDestroy();
        else to.destroy();
      });
      from.on('close', () => {
        this.sockets.delete(from);
        // The pipe has already passed a FIN on; end() again is harmless. Not destroy(): that
        // would drop what is still queued for `to` (the last frames before a goodbye).
        if (to.destroyed) return;
        to.end();
        setTimeout(() => to.destroy(), 1000).unref();
      });
    }
  }
}
