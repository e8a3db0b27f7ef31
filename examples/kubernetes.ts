// The billing service as docs/KUBERNETES.md deploys it: it serves its callers over the heartbeat
// transport on PORT and calls the orders service; on HTTP_PORT the probes: /health/live checks
// this process only, /health/ready the peers it needs.
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { HeartbeatModule, HeartbeatServer } from 'nest-heartbeat';
import { HeartbeatHealthIndicator, HeartbeatHealthModule } from 'nest-heartbeat/terminus';

@Controller()
class BillingController {
  @MessagePattern('billing.invoice')
  invoice(orderId: string) {
    return { orderId, invoiced: true };
  }
}

@Controller('health')
class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HeartbeatHealthIndicator) private readonly peers: HeartbeatHealthIndicator,
  ) {}

  // Liveness: the process answers. No dependency here: when the orders service is down, a
  // restart of every billing pod cannot bring it back, and the restarts cascade to their callers.
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  // Readiness: out of the Service while no orders instance is alive; back when one is.
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      () => this.peers.isHealthy('orders', { filter: { metadata: { service: 'orders' } }, minAlive: 1 }),
    ]);
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      // No nodeId: the default (hostname, i.e. the pod's name, pid, random) is unique per pod.
      metadata: { service: 'billing' },
      server: { host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 4001) },
      clients: [{
        name: 'ORDERS',
        host: process.env.ORDERS_HOST ?? '127.0.0.1',
        port: Number(process.env.ORDERS_PORT ?? 4000),
        waitForReadyMs: 2000, // a request made while the link moves to another pod waits for it
      }],
    }),
    TerminusModule,
    HeartbeatHealthModule,
  ],
  controllers: [BillingController, HealthController],
})
class BillingModule {}

async function bootstrap() {
  const app = await NestFactory.create(BillingModule);
  app.enableShutdownHooks(); // SIGTERM: drain, then goodbye; peers record `left`, not `lost`
  app.connectMicroservice({ strategy: app.get(HeartbeatServer) });
  await app.startAllMicroservices();
  await app.listen(Number(process.env.HTTP_PORT ?? 3000), process.env.HTTP_HOST ?? '127.0.0.1');
  console.log(`billing: heartbeat transport on port ${app.get(HeartbeatServer).address?.port}, probes on port ${process.env.HTTP_PORT ?? 3000}`);
}
void bootstrap();
