/**
 * HeartbeatModule.forRootAsync with isGlobal: PresenceService and the named clients are
 * injectable in a feature module that does not import HeartbeatModule, and they work (a real
 * server, a real link). Without isGlobal the same feature module fails to boot.
 */
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom } from 'rxjs';
import { HeartbeatClient, HeartbeatModule, PresenceService, type HeartbeatModuleOptions } from '../../src/index.js';
import { Closer, startServerApp, until } from '../support/apps.js';

const closer = new Closer();
afterEach(() => closer.closeAll());

@Injectable()
class Consumer {
  constructor(
    @Inject(PresenceService) readonly presence: PresenceService,
    @Inject('ORDERS') readonly orders: HeartbeatClient,
  ) {}
}
@Module({ providers: [Consumer] })
class FeatureModule {}

let configuredPort = 0;
@Injectable()
class Settings {
  get port() { return configuredPort; }
}
@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

async function boot(port: number, isGlobal: boolean) {
  @Module({
    imports: [
      HeartbeatModule.forRootAsync({
        imports: [SettingsModule],
        inject: [Settings],
        useFactory: (s: Settings): HeartbeatModuleOptions => ({ nodeId: 'async-global', clients: [{ name: 'ORDERS', port: s.port }] }),
        clientNames: ['ORDERS'],
        isGlobal,
      }),
      FeatureModule,
    ],
  })
  class AppModule {}
  configuredPort = port;
  return NestFactory.createApplicationContext(AppModule, { logger: false, abortOnError: false });
}

test('forRootAsync({ isGlobal: true }): PresenceService and named clients injectable and working in a module that does not import it', async () => {
  const server = closer.add(await startServerApp({ nodeId: 'orders' }));
  const app = closer.add(await boot(server.port, true));
  await app.init();
  const consumer = app.get(Consumer);
  expect(consumer.presence).toBe(app.get(PresenceService));
  await expect(firstValueFrom(consumer.orders.send('echo', { via: 'global' }))).resolves.toEqual({ via: 'global' });
  await until(() => consumer.presence.get('orders')?.status === 'alive', 5_000, 'orders alive');
  expect(server.presence.get('async-global')?.status).toBe('alive');
});

test('forRootAsync without isGlobal: the same feature module cannot resolve them', async () => {
  await expect(boot(1, false)).rejects.toThrow(/PresenceService|ORDERS/);
});
