/**
 * The cluster demo's replica: a HeartbeatServer microservice with `cluster` configured. Its peers
 * connect to it directly; through Redis it also sees every peer of the other replicas.
 *
 * This is what an application using cluster presence looks like: `HeartbeatModule.forRoot` with a
 * `server` and `cluster`, `@OnClusterPeer*` / `@OnReplicaLost` handlers and `PresenceService.cluster`
 * for the merged table. `report()` hands what it sees to the demo runner (cluster.ts) as JSON lines.
 *
 * Run by cluster.ts; by hand: DEMO_NODE_ID=replica-a DEMO_REDIS=redis://127.0.0.1:6379 node --import tsx demo/cluster-replica.ts
 */
import 'reflect-metadata';
import { ConsoleLogger, Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AsyncMicroserviceOptions } from '@nestjs/microservices';
// In your application: from 'nest-heartbeat'.
import {
  HeartbeatModule, HeartbeatServer, OnClusterPeerJoined, OnClusterPeerLeft, OnClusterPeerLost, OnReplicaLost, PresenceService,
  type ClusterPresenceEvent, type ReplicaLostEvent,
} from '../src/index.js';

const report = (evt: string, data: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ evt, ...data })}\n`);

@Injectable()
class ClusterEvents {
  @OnClusterPeerJoined() joined(e: ClusterPresenceEvent) { report('cluster', { ...e }); }
  @OnClusterPeerLost() lost(e: ClusterPresenceEvent) { report('cluster', { ...e }); }
  @OnClusterPeerLeft() left(e: ClusterPresenceEvent) { report('cluster', { ...e }); }
  @OnReplicaLost() replicaLost(e: ReplicaLostEvent) { report('replica-lost', { ...e }); }
}

/** The merged table, the replicas and the Redis status, a few times a second. */
@Injectable()
class ClusterTable implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  constructor(@Inject(PresenceService) private readonly presence: PresenceService) {}

  onApplicationBootstrap() {
    let status = 'degraded';
    const cluster = this.presence.cluster!; // configured below
    cluster.status$.subscribe((s) => (status = s));
    this.timer = setInterval(() => report('table', {
      at: Date.now(), status, peers: cluster.peers(), replicas: cluster.replicas(),
    }), 200);
  }

  onApplicationShutdown() {
    clearInterval(this.timer);
  }
}

@Module({
  imports: [HeartbeatModule.forRoot({
    nodeId: process.env.DEMO_NODE_ID,
    server: { host: '127.0.0.1', port: 0 },
    heartbeat: { intervalMs: 500 },
    cluster: {
      redis: process.env.DEMO_REDIS ?? 'redis://127.0.0.1:6379',
      namespace: 'demo',
      leaseTtlMs: Number(process.env.DEMO_LEASE_TTL_MS ?? 4000),
      renewIntervalMs: Number(process.env.DEMO_RENEW_INTERVAL_MS ?? 1000),
    },
  })],
  providers: [ClusterEvents, ClusterTable],
})
class ReplicaModule {}

const app = await NestFactory.createMicroservice<AsyncMicroserviceOptions>(ReplicaModule, {
  inject: [HeartbeatServer], useFactory: (server: HeartbeatServer) => ({ strategy: server }),
  logger: new ConsoleLogger({ json: true, logLevels: ['error', 'warn', 'log'] }),
});
app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
await app.listen();
const self = app.get(PresenceService).cluster!.replicas().find((r) => r.self);
report('ready', { pid: process.pid, address: app.get(HeartbeatServer).address, replicaId: self?.id });
process.stdin.on('end', () => void app.close().then(() => process.exit(0))).resume(); // the demo went away
