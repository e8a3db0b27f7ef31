/**
 * A user's own ioredis client: used as is, never closed by us; the duplicate we make for blocking
 * reads is ours and is closed on shutdown. Real redis-server, the module in this process.
 */
import { Test } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { HeartbeatModule, PresenceService, type ClusterStatus } from '../../src/index.js';
import { RedisServer } from './support/redis-server.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis.stop();
});

const clients = () => redis.cli('CLIENT', 'LIST').split('\n').filter(Boolean).length - 1; // minus redis-cli itself

it('uses the given client, duplicates it once for reads, closes only the duplicate', async () => {
  const mine = new Redis(redis.url);
  await mine.ping();
  expect(clients()).toBe(1);
  const ref = await Test.createTestingModule({
    imports: [HeartbeatModule.forRoot({ nodeId: 'solo', cluster: { redis: mine, namespace: 'own', leaseTtlMs: 1000, renewIntervalMs: 200 } })],
  }).compile();
  const app = await ref.init();
  const cluster = app.get(PresenceService).cluster!;
  const statuses: ClusterStatus[] = [];
  cluster.status$.subscribe((s) => statuses.push(s));
  expect(statuses).toEqual(['connected']);
  expect(cluster.replicas()).toEqual([expect.objectContaining({ nodeId: 'solo', self: true, id: expect.stringMatching(/^solo\//) })]);
  expect(clients()).toBe(2); // ours + the duplicate
  expect(redis.cli('ZRANGE', '{own}:leases', '0', '-1')).toContain('solo/');
  await app.close();
  expect(mine.status).toBe('ready');
  expect(await mine.ping()).toBe('PONG');
  expect(clients()).toBe(1);
  expect(redis.cli('ZRANGE', '{own}:leases', '0', '-1')).not.toContain('solo/'); // left: keys removed
  await mine.quit();
});

it('a URL or options: we make the clients and close both', async () => {
  const ref = await Test.createTestingModule({
    imports: [HeartbeatModule.forRoot({ nodeId: 'url', cluster: { redis: { host: '127.0.0.1', port: redis.port }, namespace: 'opts', leaseTtlMs: 1000, renewIntervalMs: 200 } })],
  }).compile();
  const app = await ref.init();
  expect(clients()).toBe(2);
  await app.close();
  await new Promise((r) => setTimeout(r, 100));
  expect(clients()).toBe(0);
});
