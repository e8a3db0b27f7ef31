// The orders service: a Nest microservice served over HeartbeatServer.
import { Controller, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { HeartbeatModule, HeartbeatServer, OnPeerJoined, OnPeerLeft, OnPeerLost, type PresenceEvent } from 'nest-heartbeat';

@Controller()
class OrdersController {
  @MessagePattern('orders.get')
  get(id: string) {
    return { id, total: 42 };
  }

  @MessagePattern('orders.report')
  async report() {
    await new Promise((resolve) => setTimeout(resolve, 60_000)); // a slow request
    return 'the monthly report';
  }
}

@Injectable()
class PeerWatcher {
  @OnPeerJoined()
  joined(e: PresenceEvent) {
    console.log(`joined: ${e.peer.id} (managed: ${e.peer.managed}) from ${e.peer.address}`);
  }

  @OnPeerLeft()
  left(e: PresenceEvent) {
    console.log(`left: ${e.peer.id}`);
  }

  @OnPeerLost()
  lost(e: PresenceEvent) {
    console.log(`lost: ${e.peer.id} (${e.reason})`);
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      // One nodeId per process: a second instance of this service gets its own (NODE_ID=orders-2).
      nodeId: process.env.NODE_ID ?? 'orders-1',
      metadata: { service: 'orders' },
      // 127.0.0.1 (the default) accepts local peers only; in a container listen on '0.0.0.0'.
      server: { host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 4000) },
    }),
  ],
  controllers: [OrdersController],
  providers: [PeerWatcher],
})
class OrdersModule {}

async function bootstrap() {
  // The strategy comes from DI: HeartbeatModule provides HeartbeatServer when `server` is set.
  const app = await NestFactory.createMicroservice(OrdersModule, {
    inject: [HeartbeatServer],
    useFactory: (server: HeartbeatServer) => ({ strategy: server }),
  });
  app.enableShutdownHooks(); // on SIGTERM, say goodbye: peers record `left`, not `lost`
  await app.listen();
  console.log(`${process.env.NODE_ID ?? 'orders-1'} listening on port ${app.get(HeartbeatServer).address?.port}`);
}
void bootstrap();
