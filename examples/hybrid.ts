// One application serving HTTP and the heartbeat transport, on two different ports.
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { HeartbeatModule, HeartbeatServer, PresenceService } from 'nest-heartbeat';

@Controller()
class OrdersController {
  constructor(@Inject(PresenceService) private readonly presence: PresenceService) {}

  @Get('peers') // HTTP: who is connected to the microservice side
  peers() {
    return this.presence.peers();
  }

  @MessagePattern('orders.get') // TCP, through HeartbeatServer
  get(id: string) {
    return { id, total: 42 };
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      nodeId: 'orders-1',
      metadata: { service: 'orders' },
      // Not 3000: server.port defaults to 3000, which the HTTP server below takes.
      server: { port: Number(process.env.PORT ?? 4000) },
    }),
  ],
  controllers: [OrdersController],
})
class AppModule {}

async function bootstrap() {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks(); // on SIGTERM, say goodbye: peers record `left`, not `lost`
  app.connectMicroservice({ strategy: app.get(HeartbeatServer) });
  await app.startAllMicroservices(); // before listen(): the microservice is served from here on
  await app.listen(Number(process.env.HTTP_PORT ?? 3000), process.env.HTTP_HOST ?? '127.0.0.1');
  console.log(`HTTP on port ${process.env.HTTP_PORT ?? 3000}, heartbeat transport on port ${app.get(HeartbeatServer).address?.port}`);
}
void bootstrap();
