/**
 * B6's delaying TCP proxy: `node --import tsx bench/b6/proxy.ts`. One listener per detector,
 * each forwarding to the observer's port for that detector. Every chunk is delayed in order:
 * TCP is a byte stream, so a chunk's release time is max(previous release, arrival + sampled
 * delay), per direction of each connection. The same proxy, with the same profile, stands between
 * every detector and its peers (the quiet profile adds no delay but keeps the proxy in the path).
 *
 * Commands: { cmd: 'listen', routes: [{ name, port }] } → { name: listenPort };
 *           { cmd: 'profile', profile } (see DelayProfile); { cmd: 'stats' }.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { emit, serveCommands } from '../lib/proc.js';

export type DelayProfile =
  | { kind: 'none' }
  /** Each chunk delayed by an exponential draw of mean `meanMs` (standard deviation `meanMs` too). */
  | { kind: 'jitter'; meanMs: number }
  /** Bursts start at exponential intervals of mean `everyMs` per direction, each adds `delayMs` to every chunk for `lastMs`. */
  | { kind: 'bursts'; delayMs: number; lastMs: number; everyMs: number };

let profile: DelayProfile = { kind: 'none' };
const exp = (mean: number) => -Math.log(1 - Math.random()) * mean;

/** One direction of one connection: an order-preserving delay line. */
class DelayLine {
  private readonly queue: Array<{ at: number; chunk: Buffer }> = [];
  private lastRelease = 0;
  private timer: NodeJS.Timeout | undefined;
  private burstUntil = 0;
  private nextBurst = 0;

  constructor(private readonly out: Socket) {}

  push(chunk: Buffer): void {
    const now = Date.now();
    const release = Math.max(this.lastRelease, now + this.delay(now));
    this.lastRelease = release;
    if (release <= now && this.queue.length === 0) {
      this.out.write(chunk);
      return;
    }
    this.queue.push({ at: release, chunk });
    if (!this.timer) this.arm();
  }

  close(): void {
    clearTimeout(this.timer);
    this.queue.length = 0;
  }

  private delay(now: number): number {
    switch (profile.kind) {
      case 'none':
        return 0;
      case 'jitter':
        return exp(profile.meanMs);
      case 'bursts':
        if (this.nextBurst === 0) this.nextBurst = now + exp(profile.everyMs);
        while (now >= this.nextBurst) {
          this.burstUntil = this.nextBurst + profile.lastMs;
          this.nextBurst += profile.lastMs + exp(profile.everyMs);
        }
        return now < this.burstUntil ? profile.delayMs : 0;
    }
  }

  private arm(): void {
    const head = this.queue[0];
    this.timer = setTimeout(() => this.flush(), Math.max(0, head.at - Date.now()));
  }

  private flush(): void {
    this.timer = undefined;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0].at <= now) {
      if (!this.out.destroyed) this.out.write(this.queue.shift()!.chunk);
      else this.queue.shift();
    }
    if (this.queue.length > 0) this.arm();
  }
}

const servers: Server[] = [];
let connections = 0;
const eld = monitorEventLoopDelay({ resolution: 5 });
eld.enable();

function route(upstreamPort: number): Promise<number> {
  const server = createServer((downstream) => {
    connections++;
    downstream.setNoDelay(true);
    const upstream = createConnection({ host: '127.0.0.1', port: upstreamPort });
    upstream.setNoDelay(true);
    const up = new DelayLine(upstream);
    const down = new DelayLine(downstream);
    downstream.on('data', (c: Buffer) => up.push(c));
    upstream.on('data', (c: Buffer) => down.push(c));
    // An end or error on either side ends both (the proxy is transparent to closes, not to timing).
    const close = () => {
      up.close();
      down.close();
      downstream.destroy();
      upstream.destroy();
    };
    for (const s of [downstream, upstream]) {
      s.on('error', close);
      s.on('close', close);
    }
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '0.0.0.0', 1024, () => resolve((server.address() as { port: number }).port)));
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'listen': {
      const ports: Record<string, number> = {};
      for (const r of cmd.routes as Array<{ name: string; port: number }>) ports[r.name] = await route(r.port);
      return ports;
    }
    case 'profile':
      profile = cmd.profile as DelayProfile;
      return null;
    case 'stats': {
      const stats = { connections, loopDelayMs: { p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 } };
      eld.reset();
      return stats;
    }
    default:
      throw new Error(`unknown command ${String(cmd.cmd)}`);
  }
});
emit({ evt: 'ready' });
