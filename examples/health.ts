// An HTTP service whose /health is down while the orders service is not alive.
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { HeartbeatModule } from 'nest-heartbeat';
import { HeartbeatHealthIndicator, HeartbeatHealthModule } from 'nest-heartbeat/terminus';

@Controller('health')
class HealthController {
  constructor(
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HeartbeatHealthIndicator) private readonly peers: HeartbeatHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([
      // up while the peer 'orders-1' is alive (or suspect)
      () => this.peers.isHealthy('orders', ['orders-1']),
      // up while at least one peer with metadata service=orders is alive
      () => this.peers.isHealthy('orders-quorum', { filter: { metadata: { service: 'orders' } }, minAlive: 1 }),
    ]);
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      nodeId: 'gateway-1',
      clients: [{ name: 'ORDERS', host: process.env.ORDERS_HOST ?? '127.0.0.1', port: Number(process.env.ORDERS_PORT ?? 4000) }],
    }),
    TerminusModule,
    HeartbeatHealthModule,
  ],
  controllers: [HealthController],
})
class GatewayModule {}

async function bootstrap() {
  const app = await NestFactory.create(GatewayModule);
  app.enableShutdownHooks();
  await app.listen(Number(process.env.HTTP_PORT ?? 3000), process.env.HTTP_HOST ?? '127.0.0.1');
  console.log(`health at http://127.0.0.1:${process.env.HTTP_PORT ?? 3000}/health`);
}
void bootstrap();
