// Two instances of the orders service, one client each: a request goes to an instance that
// presence reports alive, and moves on to the next one when its instance dies mid-request.
import { Inject, Injectable, Module, ServiceUnavailableException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom } from 'rxjs';
import { HeartbeatClient, HeartbeatModule, PeerLostError, PeerUnavailableError } from 'nest-heartbeat';

@Injectable()
class OrdersGateway {
  readonly instances: HeartbeatClient[];

  constructor(@Inject('ORDERS_A') a: HeartbeatClient, @Inject('ORDERS_B') b: HeartbeatClient) {
    this.instances = [a, b];
  }

  /** Only for requests that are safe to run twice: one in flight when its instance died may have run. */
  async getOrder(id: string) {
    let lastError: unknown = new ServiceUnavailableException('no orders instance is alive');
    for (const client of this.instances.filter((c) => c.peer?.status === 'alive' || c.peer?.status === 'suspect')) {
      try {
        return await firstValueFrom(client.send<{ id: string; total: number }>('orders.get', id));
      } catch (e) {
        // PeerLostError: that instance died mid-request; PeerUnavailableError: it went down just now.
        if (!(e instanceof PeerLostError || e instanceof PeerUnavailableError)) throw e;
        lastError = e; // try the next one
      }
    }
    throw lastError;
  }
}

const host = process.env.ORDERS_HOST ?? '127.0.0.1';

@Module({
  imports: [
    HeartbeatModule.forRoot({
      clients: [
        { name: 'ORDERS_A', host, port: Number(process.env.ORDERS_A_PORT ?? 4000) },
        { name: 'ORDERS_B', host, port: Number(process.env.ORDERS_B_PORT ?? 4001) },
      ],
    }),
  ],
  providers: [OrdersGateway],
})
class GatewayModule {}

async function bootstrap() {
  const app = await NestFactory.createApplicationContext(GatewayModule);
  app.enableShutdownHooks();
  const gateway = app.get(OrdersGateway);
  await Promise.any(gateway.instances.map((client) => client.connect())); // one instance is enough
  console.log('reply:', JSON.stringify(await gateway.getOrder('A-3')));
  await app.close();
}
void bootstrap();
