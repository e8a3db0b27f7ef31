// The billing service: calls the orders service through a HeartbeatClient and watches it.
import { Inject, Injectable, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom } from 'rxjs';
import { HeartbeatClient, HeartbeatModule, OnPeerLost, PeerLostError, PresenceService, type PresenceEvent } from 'nest-heartbeat';

@Injectable()
class BillingService implements OnApplicationBootstrap {
  constructor(
    @Inject('ORDERS') private readonly orders: HeartbeatClient,
    // An explicit token: injection works without decorator metadata too (tsx, esbuild).
    @Inject(PresenceService) private readonly presence: PresenceService,
  ) {}

  onApplicationBootstrap() {
    this.presence.watch('orders-1').subscribe((status) => console.log(`orders-1 is ${status}`));
  }

  getOrder(id: string) {
    return firstValueFrom(this.orders.send<{ id: string; total: number }>('orders.get', id));
  }

  monthlyReport() {
    return firstValueFrom(this.orders.send<string>('orders.report', {}));
  }

  @OnPeerLost({ metadata: { service: 'orders' } })
  ordersLost(e: PresenceEvent) {
    console.log(`@OnPeerLost: ${e.peer.id} lost (${e.reason})`);
  }
}

@Module({
  imports: [
    HeartbeatModule.forRoot({
      nodeId: 'billing-1',
      metadata: { service: 'billing' },
      clients: [{
        name: 'ORDERS', host: process.env.ORDERS_HOST ?? '127.0.0.1', port: Number(process.env.ORDERS_PORT ?? 4000),
        // Start in any order: a request made before the orders service is up waits for it this long.
        waitForReadyMs: 30_000,
      }],
    }),
  ],
  providers: [BillingService],
})
class BillingModule {}

async function bootstrap() {
  const app = await NestFactory.createApplicationContext(BillingModule);
  app.enableShutdownHooks(); // on SIGTERM, say goodbye: the orders service records `left`
  // The client connects at bootstrap and keeps trying with backoff; no need to await connect():
  // the first request waits (waitForReadyMs) for the orders service, whichever starts first.
  const billing = app.get(BillingService);

  console.log('reply:', JSON.stringify(await billing.getOrder('A-1')));

  console.log('waiting for the monthly report (kill -9 the orders service now)');
  try {
    console.log('report:', await billing.monthlyReport());
  } catch (e) {
    if (!(e instanceof PeerLostError)) throw e;
    // The orders node died or hung: the request failed at once. Retry on another instance.
    console.log(`PeerLostError: ${e.message}`);
  }
  // The client keeps reconnecting with backoff; it is back when the orders service is.
}
void bootstrap();
