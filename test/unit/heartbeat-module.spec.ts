import { jest } from '@jest/globals';
import { Inject, Injectable, Logger, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  HEARTBEAT_RESOLVED_OPTIONS, HeartbeatClient, HeartbeatModule, HeartbeatServer, PresenceService,
  type HeartbeatModuleOptions, type ResolvedHeartbeatOptions,
} from '../../src/index.js';

const OPTIONS: HeartbeatModuleOptions = { nodeId: 'node-a', heartbeat: { intervalMs: 250 }, server: { port: 0 }, clients: [{ name: 'ORDERS', port: 4100 }] };

@Injectable()
class HeartbeatConfig {
  create(): HeartbeatModuleOptions {
    return OPTIONS;
  }
}
@Module({ providers: [HeartbeatConfig, { provide: 'CONFIG', useValue: OPTIONS }], exports: [HeartbeatConfig, 'CONFIG'] })
class ConfigModule {}

async function compile(imports: unknown[]) {
  const ref = await Test.createTestingModule({ imports: imports as never }).compile();
  return ref;
}

describe('HeartbeatModule', () => {
  afterEach(() => jest.restoreAllMocks());

  it('forRoot provides PresenceService, HeartbeatServer and each client under its name', async () => {
    const ref = await compile([HeartbeatModule.forRoot(OPTIONS)]);
    expect(ref.get(PresenceService)).toBeInstanceOf(PresenceService);
    expect(ref.get(HeartbeatServer)).toBeInstanceOf(HeartbeatServer);
    expect(ref.get('ORDERS')).toBeInstanceOf(HeartbeatClient);
    expect(ref.get<ResolvedHeartbeatOptions>(HEARTBEAT_RESOLVED_OPTIONS).nodeId).toBe('node-a');
  });

  it('forRoot without server provides no HeartbeatServer', async () => {
    const ref = await compile([HeartbeatModule.forRoot({ nodeId: 'x' })]);
    expect(() => ref.get(HeartbeatServer)).toThrow();
  });

  it.each([
    ['useFactory with inject and imports', { imports: [ConfigModule], inject: ['CONFIG'], useFactory: (c: HeartbeatModuleOptions) => c }],
    ['useClass', { useClass: class implements Record<string, unknown> { [k: string]: unknown; create() { return OPTIONS; } } }],
    ['useExisting', { imports: [ConfigModule], useExisting: HeartbeatConfig }],
  ])('forRootAsync %s', async (_form, asyncOptions) => {
    const ref = await compile([HeartbeatModule.forRootAsync({ ...(asyncOptions as object), clientNames: ['ORDERS'] })]);
    expect(ref.get<ResolvedHeartbeatOptions>(HEARTBEAT_RESOLVED_OPTIONS)).toMatchObject({ nodeId: 'node-a', heartbeat: { intervalMs: 250 } });
    expect(ref.get(HeartbeatServer)).toBeInstanceOf(HeartbeatServer);
    expect(ref.get('ORDERS')).toBeInstanceOf(HeartbeatClient);
  });

  it('forRootAsync with a factory that configures no server resolves HeartbeatServer to null', async () => {
    const ref = await compile([HeartbeatModule.forRootAsync({ useFactory: () => ({ nodeId: 'y' }) })]);
    expect(ref.get(HeartbeatServer)).toBeNull();
  });

  it('forRootAsync fails the boot when a named client is missing from the factory result', async () => {
    await expect(compile([HeartbeatModule.forRootAsync({ useFactory: () => ({}), clientNames: ['BILLING'] })]))
      .rejects.toThrow(/"clients" has no entry named BILLING/);
  });

  it('isGlobal makes PresenceService injectable in modules that do not import it', async () => {
    @Injectable()
    class Consumer {
      constructor(@Inject(PresenceService) readonly presence: PresenceService) {}
    }
    @Module({ providers: [Consumer] })
    class FeatureModule {}
    const ref = await compile([HeartbeatModule.forRoot({ isGlobal: true }), FeatureModule]);
    expect(ref.get(Consumer).presence).toBeInstanceOf(PresenceService);
    await expect(compile([HeartbeatModule.forRoot({}), FeatureModule])).rejects.toThrow(/PresenceService/);
  });

  it('fails the boot on a bad option, naming it', async () => {
    await expect(compile([HeartbeatModule.forRoot({ heartbeat: { intervalMs: -1 } })])).rejects.toThrow(/"heartbeat\.intervalMs"/);
    await expect(compile([HeartbeatModule.forRootAsync({ useFactory: () => ({ server: { port: 99999 } }) })])).rejects.toThrow(/"server\.port"/);
    await expect(compile([HeartbeatModule.forRoot({ heartbeat: { missedBeats: 0 } })])).rejects.toThrow(/"heartbeat\.missedBeats"/);
  });

  it('logs nothing at boot for a valid configuration', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn');
    await compile([HeartbeatModule.forRoot(OPTIONS)]);
    expect(warn).not.toHaveBeenCalled();
  });
});
