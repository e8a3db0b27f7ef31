import { resolveHeartbeatOptions } from '../../src/options/resolve-options.js';

const cluster = (c: Record<string, unknown>) => resolveHeartbeatOptions({ cluster: c as never });

it('fills the documented defaults', () => {
  expect(cluster({ redis: 'redis://127.0.0.1:6379' }).cluster).toEqual({
    redis: 'redis://127.0.0.1:6379', namespace: 'nest-heartbeat', leaseTtlMs: 10_000, renewIntervalMs: 2000,
  });
  expect(cluster({ redis: { host: '127.0.0.1', port: 7000 } }).cluster?.redis).toEqual({ host: '127.0.0.1', port: 7000 });
  expect(resolveHeartbeatOptions({}).cluster).toBeUndefined();
});

it('rejects bad values at boot with a message naming the option', () => {
  expect(() => cluster({})).toThrow(/option "cluster.redis" must be an ioredis client, ioredis options or a redis:\/\/ URL/);
  expect(() => cluster({ redis: 'localhost:6379' })).toThrow(/"cluster.redis"/);
  expect(() => resolveHeartbeatOptions({ cluster: 'redis://x' as never })).toThrow(/option "cluster" must be an object/);
  expect(() => cluster({ redis: 'redis://x', namespace: 'a b' })).toThrow(/option "cluster.namespace"/);
  expect(() => cluster({ redis: 'redis://x', leaseTtlMs: 50 })).toThrow(/option "cluster.leaseTtlMs" must be an integer >= 100/);
  expect(() => cluster({ redis: 'redis://x', renewIntervalMs: 0 })).toThrow(/option "cluster.renewIntervalMs"/);
  expect(() => cluster({ redis: 'redis://x', leaseTtlMs: 1000, renewIntervalMs: 600 }))
    .toThrow(/option "cluster.renewIntervalMs" must be at most half of cluster.leaseTtlMs \(1000\)/);
});

it('a short lease gets a renew interval that fits it when none is given', () => {
  expect(cluster({ redis: 'redis://x', leaseTtlMs: 1500 }).cluster?.renewIntervalMs).toBe(500);
});
