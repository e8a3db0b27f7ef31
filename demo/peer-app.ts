/**
 * A demo peer: a Nest application whose HeartbeatClient connects to the server, handshakes,
 * heartbeats and reconnects with backoff. It needs no code for any of that; the only code here
 * is an optional worker that sends a request now and then (data frames count as beats, so a
 * busy link sends fewer pings).
 *
 * Run by main.ts; by hand: DEMO_NODE_ID=peer-1 DEMO_SERVER=127.0.0.1:4000 node --import tsx demo/peer-app.ts
 */
import 'reflect-metadata';
import { ConsoleLogger, Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom } from 'rxjs';
// In your application: from 'nest-heartbeat'.
import { HeartbeatClient, HeartbeatModule } from '../src/index.js';

const [host, port] = (process.env.DEMO_SERVER ?? '127.0.0.1:3000').split(':');
const intervalMs = Number(process.env.DEMO_INTERVAL_MS ?? 1000);
const workEveryMs = Number(process.env.DEMO_WORK_EVERY_MS ?? 0);

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
    try {
      await firstValueFrom(this.server.send('work', ++this.n));
    } catch {
      // PeerLostError while the server is unreachable; the client reconnects by itself
    }
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      nodeId: process.env.DEMO_NODE_ID,
      metadata: { role: process.env.DEMO_ROLE ?? 'worker' },
      heartbeat: { intervalMs, missedBeats: 3 },
      clients: [{ name: 'SERVER', host, port: Number(port), reconnect: { initialDelayMs: 100, maxDelayMs: 2000 } }],
    }),
  ],
  providers: [Worker],
})
class PeerModule {}

// Bootstrap connects SERVER (and keeps reconnecting after a loss until the app closes).
const app = await NestFactory.createApplicationContext(PeerModule, {
  logger: new ConsoleLogger({ json: true, logLevels: ['error', 'warn'] }),
});
app.enableShutdownHooks(['SIGTERM', 'SIGINT']); // SIGTERM: goodbye to the server, which records `left`
process.stdout.write(`${JSON.stringify({ evt: 'ready', pid: process.pid })}\n`);
process.stdin.on('end', () => void app.close().then(() => process.exit(0))).resume(); // the demo went away
