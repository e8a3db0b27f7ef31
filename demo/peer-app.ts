/**
 * A demo peer: a Nest application whose HeartbeatClient connects to the server, handshakes,
 * heartbeats and reconnects with backoff. It needs no code for any of that; the only code here
 * is an optional worker that sends a request now and then (data frames count as beats, so a
 * busy link sends fewer pings) and, for the demo runner, a report of what it sees of its server
 * (presence events; with DEMO_REPORT_WORK=1 each request's outcome).
 *
 * Run by main.ts; by hand: DEMO_NODE_ID=peer-1 DEMO_SERVER=127.0.0.1:4000 node --import tsx demo/peer-app.ts
 */
import 'reflect-metadata';
import { ConsoleLogger, Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom } from 'rxjs';
// In your application: from 'nest-heartbeat'.
import { HeartbeatClient, HeartbeatModule, PresenceService } from '../src/index.js';

const [host, port] = (process.env.DEMO_SERVER ?? '127.0.0.1:3000').split(':');
const intervalMs = Number(process.env.DEMO_INTERVAL_MS ?? 1000);
const workEveryMs = Number(process.env.DEMO_WORK_EVERY_MS ?? 0);
/** Requests made while the client has no link wait this long for one (`waitForReadyMs`). */
const waitForReadyMs = Number(process.env.DEMO_WAIT_FOR_READY_MS ?? 0);
/** Report every request's outcome (the deploy demo counts failures). */
const reportWork = process.env.DEMO_REPORT_WORK === '1';

/** Demo plumbing: one JSON line per report, read by the demo runner. */
const report = (evt: string, data: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ evt, ...data })}\n`);

@Injectable()
class Worker implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private n = 0;

  constructor(@Inject('SERVER') private readonly server: HeartbeatClient) {}

  onApplicationBootstrap() {
    if (workEveryMs > 0) this.timer = setInterval(() => void this.work(), workEveryMs);
  }

  onApplicationShutdown() {
    clearInterval(this.timer);
  }

  private async work() {
    const n = ++this.n;
    const at = Date.now();
    try {
      await firstValueFrom(this.server.send('work', n));
      if (reportWork) report('work', { n, at, ms: Date.now() - at, ok: true });
    } catch (error) {
      // PeerLostError while the server is unreachable; the client reconnects by itself
      if (reportWork) report('work', { n, at, ms: Date.now() - at, ok: false, error: `${(error as Error).name}: ${(error as Error).message}` });
    }
  }
}

/** What this peer sees of its server(s), for the demo runner (the deploy demo checks it): every presence event. */
@Injectable()
class ServerEvents implements OnApplicationBootstrap {
  constructor(@Inject(PresenceService) private readonly presence: PresenceService) {}

  onApplicationBootstrap() {
    this.presence.events$.subscribe((e) => report('presence', { ...e }));
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      nodeId: process.env.DEMO_NODE_ID,
      metadata: { role: process.env.DEMO_ROLE ?? 'worker' },
      heartbeat: { intervalMs, missedBeats: 3 },
      clients: [{ name: 'SERVER', host, port: Number(port), waitForReadyMs, reconnect: { initialDelayMs: 100, maxDelayMs: 2000 } }],
    }),
  ],
  providers: [Worker, ServerEvents],
})
class PeerModule {}

// Bootstrap connects SERVER (and keeps reconnecting after a loss until the app closes).
const app = await NestFactory.createApplicationContext(PeerModule, {
  logger: new ConsoleLogger({ json: true, logLevels: ['error', 'warn'] }),
});
app.enableShutdownHooks(['SIGTERM', 'SIGINT']); // SIGTERM: goodbye to the server, which records `left`
report('ready', { pid: process.pid });
process.stdin.on('end', () => void app.close().then(() => process.exit(0))).resume(); // the demo went away
