/**
 * Raw wire peers for contract tests: real sockets on 127.0.0.1 speaking the frame format by hand
 * (`<length>#<json>`, length in UTF-16 code units), so a test controls exactly which frames go
 * out — only data, no pings, a FIN without bye, an RST — and sees every frame that comes back.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export const encode = (o: object): string => {
  const json = JSON.stringify(o);
  return `${json.length}#${json}`;
};
export const helloFrame = (id: string, meta: Record<string, string> = {}, token?: string) =>
  encode({ $hb: 'hello', v: 1, id, meta, ...(token === undefined ? {} : { token }) });
export const welcomeFrame = (id: string, meta: Record<string, string> = {}) => encode({ $hb: 'welcome', v: 1, id, meta });
export const BYE = encode({ $hb: 'bye' });

export interface WireFrame {
  frame: Record<string, any>;
  /** Epoch ms when it arrived. */
  at: number;
}

/** One socket with frame parsing and bookkeeping of what came in. */
export class WireSocket {
  readonly frames: WireFrame[] = [];
  readonly closed: Promise<void>;
  closedAt?: number;
  private text = '';
  private waiters: Array<() => void> = [];
  private pongs = false;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      for (;;) {
        const hash = this.text.indexOf('#');
        if (hash < 0) break;
        const len = Number(this.text.slice(0, hash));
        if (this.text.length < hash + 1 + len) break;
        const frame = JSON.parse(this.text.slice(hash + 1, hash + 1 + len));
        this.text = this.text.slice(hash + 1 + len);
        this.frames.push({ frame, at: Date.now() });
        if (this.pongs && frame.$hb === 'ping') this.write(encode({ $hb: 'pong', seq: frame.seq, t: frame.t }));
      }
      this.wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.closedAt = Date.now();
      this.wake();
      resolve();
    }));
  }

  /** Answer every ping with a pong from now on (a well-behaved managed peer). */
  answerPings(on = true): this {
    this.pongs = on;
    return this;
  }

  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  count(kind: string): number {
    return this.frames.filter((f) => f.frame.$hb === kind).length;
  }

  /** Resolves with the first frame (already in or to come) matching. */
  async waitFor(match: (f: Record<string, any>) => boolean, timeoutMs = 5_000, what = 'frame'): Promise<WireFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((f) => match(f.frame));
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.closedAt !== undefined) {
        throw new Error(`wire: no ${what} within ${timeoutMs} ms (closed: ${this.closedAt !== undefined}); got ${JSON.stringify(this.frames.map((f) => f.frame.$hb ?? 'data'))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  /** Close with FIN, no goodbye. */
  end(): void {
    this.socket.end();
  }

  /** Close with RST (SO_LINGER 0). */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  /** Goodbye, then FIN. */
  bye(): void {
    this.write(BYE);
    this.socket.end();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A raw client: connects, optionally says hello and waits for the welcome. */
export async function wireClient(port: number, hello?: { id: string; meta?: Record<string, string>; token?: string }): Promise<WireSocket> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const wire = new WireSocket(socket);
  if (hello) {
    wire.write(helloFrame(hello.id, hello.meta, hello.token));
    await wire.waitFor((f) => f.$hb === 'welcome', 5_000, 'welcome');
  }
  return wire;
}

/** A raw server on port 0 that welcomes every hello as `id`; each accepted link is handed out. */
export class WireServer {
  readonly links: WireSocket[] = [];
  private readonly server: Server;
  private waiters: Array<() => void> = [];

  constructor(readonly id: string) {
    this.server = createServer((socket) => {
      const wire = new WireSocket(socket);
      this.links.push(wire);
      void wire.waitFor((f) => f.$hb === 'hello', 10_000, 'hello').then(() => wire.write(welcomeFrame(id)), () => undefined);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async listen(): Promise<number> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  /** The next accepted link that has said hello (already in or to come). */
  async link(index = 0, timeoutMs = 5_000): Promise<WireSocket> {
    const deadline = Date.now() + timeoutMs;
    while (this.links.length <= index) {
      if (Date.now() > deadline) throw new Error(`wire server ${this.id}: no connection #${index} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    await this.links[index].waitFor((f) => f.$hb === 'hello', timeoutMs, 'hello');
    return this.links[index];
  }

  async close(): Promise<void> {
    for (const l of this.links) l.socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
