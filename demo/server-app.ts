/**
 * The demo's server: a Nest microservice on HeartbeatServer that watches its peers.
 *
 * This is what an application using nest-heartbeat looks like: `HeartbeatModule.forRoot` with a
 * `server`, `@OnPeer*` handlers, `PresenceService` for the live table and a terminus health
 * check on the peers. The only demo-specific part is `report()`, which hands what the app sees
 * to the demo runner (main.ts) as JSON lines on stdout.
 *
 * Run by main.ts; by hand: DEMO_PORT=4000 node --import tsx demo/server-app.ts
 */
import 'reflect-metadata';
import { ConsoleLogger, Controller, Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, type AsyncMicroserviceOptions } from '@nestjs/microservices';
import { HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
// In your application: from 'nest-heartbeat' and 'nest-heartbeat/terminus'.
import { HeartbeatHealthIndicator, HeartbeatHealthModule } from '../src/health/index.js';
import {
  HeartbeatModule, HeartbeatServer, OnPeerJoined, OnPeerLeft, OnPeerLost, OnPeerRecovered, OnPeerSuspect, PresenceService,
  type PresenceEvent,
} from '../src/index.js';

const intervalMs = Number(process.env.DEMO_INTERVAL_MS ?? 1000);
/** How long each `work` request takes (the deploy demo: requests are in flight when it stops). */
const workMs = Number(process.env.DEMO_WORK_MS ?? 0);
/** Health: the fleet is up while at least this many peers are alive (main.ts passes peers - 1). */
const minAlive = Number(process.env.DEMO_MIN_ALIVE ?? 1);

/** Demo plumbing: one JSON line per report, read by main.ts. */
const report = (evt: string, data: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ evt, ...data })}\n`);

/** Every presence event, as it fires. (Handlers may also be async; a throwing one is logged, nothing else.) */
@Injectable()
class PeerEvents {
  @OnPeerJoined() joined(e: PresenceEvent) { report('presence', { ...e }); }
  @OnPeerSuspect() suspect(e: PresenceEvent) { report('presence', { ...e }); }
  @OnPeerRecovered() recovered(e: PresenceEvent) { report('presence', { ...e }); }
  @OnPeerLost() lost(e: PresenceEvent) { report('presence', { ...e }); }
  @OnPeerLeft() left(e: PresenceEvent) { report('presence', { ...e }); }
}

/** The peer table (status, RTT, last seen, stats) and the terminus health check, several times an interval. */
@Injectable()
class PeerTable implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  // tsx (esbuild) emits no decorator metadata: inject by explicit token.
  constructor(
    @Inject(PresenceService) private readonly presence: PresenceService,
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HeartbeatHealthIndicator) private readonly peers: HeartbeatHealthIndicator,
  ) {}

  onApplicationBootstrap() {
    this.timer = setInterval(() => void this.publish(), Math.min(200, intervalMs / 2));
  }

  onApplicationShutdown() {
    clearInterval(this.timer);
  }

  private async publish() {
    let health: HealthCheckResult;
    try {
      health = await this.health.check([() => this.peers.isHealthy('fleet', { minAlive, degradeOnSuspect: true })]);
    } catch (error) {
      health = (error as { getResponse(): HealthCheckResult }).getResponse(); // 503: status 'error'
    }
    report('table', { at: Date.now(), peers: this.presence.peers(), health });
  }
}

@Controller()
class WorkController {
  /** Peers may send requests; heartbeats share the connection and never reach handlers. */
  @MessagePattern('work') async work(n: number) {
    if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs)); // a request that takes a while
    return n * 2;
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      nodeId: process.env.DEMO_NODE_ID ?? 'server',
      metadata: { role: 'server' },
      // A connection that breaks (RST, FIN without goodbye) keeps its peer `suspect` this long:
      // back with the same incarnation, it is `recovered` (the demo's "connection reset" fault).
      heartbeat: { intervalMs, missedBeats: 3, resumeWindowMs: Number(process.env.DEMO_RESUME_WINDOW_MS ?? 0) },
      server: { host: process.env.DEMO_HOST ?? '127.0.0.1', port: Number(process.env.DEMO_PORT ?? 0) },
    }),
    TerminusModule.forRoot({ logger: false }),
    HeartbeatHealthModule,
  ],
  controllers: [WorkController],
  providers: [PeerEvents, PeerTable],
})
class ServerModule {}

// HeartbeatServer comes from DI (it needs the module's options and PresenceService).
const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(ServerModule, {
  inject: [HeartbeatServer],
  useFactory: (server: HeartbeatServer) => ({ strategy: server }),
  logger: new ConsoleLogger({ json: true, logLevels: ['error', 'warn'] }),
});
app.enableShutdownHooks(['SIGTERM', 'SIGINT']); // goodbye to every peer on shutdown
await app.listen();
report('ready', { address: app.get(HeartbeatServer).address, pid: process.pid });
process.stdin.on('end', () => void app.close().then(() => process.exit(0))).resume(); // the demo went away
