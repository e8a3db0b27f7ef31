/**
 * The lab's delaying TCP proxy, run as its own process (`node --import tsx lab/delay-proxy.ts`;
 * drive it with `DelayProxy` from delay-proxy-client.ts). This kernel has no `netem` qdisc, so
 * delay and jitter are made here, between peer and server: one listener per route, each
 * forwarding to 127.0.0.1:<port>. Every chunk is delayed in order — TCP is a byte stream, so a
 * chunk's release time is max(previous release, arrival + sampled delay), per direction of each
 * connection. Closes pass through at once (the proxy is transparent to closes, not to timing).
 *
 * Commands, one JSON line each on stdin, answered `{ re: id, result }` / `{ re: id, error }`:
 *   { id, cmd: 'listen', routes: [{ name, port }] } → { name: listenPort } (listening on 0.0.0.0)
 *   { id, cmd: 'profile', profile: DelayProfile }    (applies to every chunk from then on)
 *   { id, cmd: 'stats' }                             → connections, loop delay since the last call
 * It prints `{ evt: 'ready' }` first and exits when stdin closes.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';

export type DelayProfile =
  | { kind: 'none' }
  /** Each chunk delayed by an exponential draw of mean `meanMs` (its standard deviation is `meanMs` too). */
  | { kind: 'jitter'; meanMs: number }
  /** Bursts start at exponential intervals of mean `everyMs` per direction; each adds `delayMs` to every chunk for `lastMs`. */
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
    this.timer = setTimeout(() => this.flush(), Math.max(0, this.queue[0].at - Date.now()));
  }

  private flush(): void {
    this.timer = undefined;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0].at <= now) {
      const { chunk } = this.queue.shift()!;
      if (!this.out.destroyed) this.out.write(chunk);
    }
    if (this.queue.length > 0) this.arm();
  }
}

let connections = 0;
const eld = monitorEventLoopDelay({ resolution: 5 });

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
  return new Promise((resolve) => server.listen(0, '0.0.0.0', 1024, () => resolve((server.address() as { port: number }).port)));
}

async function handle(cmd: Record<string, any>): Promise<unknown> {
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
}

if (import.meta.url === `file://${process.argv[1]}`) {
  eld.enable();
  const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      let cmd: Record<string, any>;
      try {
        cmd = JSON.parse(line);
      } catch {
        return;
      }
      handle(cmd).then((result) => print({ re: cmd.id, result: result ?? null }), (e: Error) => print({ re: cmd.id, error: e.message }));
    })
    .on('close', () => process.exit(0));
  print({ evt: 'ready' });
}
