// A stock Nest TCP client (ClientsModule, Transport.TCP) calling a HeartbeatServer unchanged.
// The server lists it as an unmanaged peer with the id `tcp:<its address>:<its port>`.
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientsModule, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';

@Module({
  imports: [
    ClientsModule.register([
      { name: 'ORDERS', transport: Transport.TCP, options: { host: process.env.ORDERS_HOST ?? '127.0.0.1', port: Number(process.env.ORDERS_PORT ?? 4000) } },
    ]),
  ],
})
class LegacyModule {}

async function bootstrap() {
  const app = await NestFactory.createApplicationContext(LegacyModule);
  app.enableShutdownHooks();
  const orders = app.get<ClientProxy>('ORDERS');
  console.log('reply:', JSON.stringify(await firstValueFrom(orders.send('orders.get', 'A-2'))));
  await app.close();
}
void bootstrap();
