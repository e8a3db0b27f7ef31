/**
 * Boot: Redis unreachable at boot is one warning, `degraded`, and no boot delay, and the
 * cluster view starts when Redis answers; a reachable Redis gets a boot line that names the
 * namespace and the replicas found in it (the default namespace merges every service that
 * shares a Redis: the line makes that visible). The module in this process, a real redis-server.
 */
import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { firstValueFrom, filter, timeout } from 'rxjs';
import { HeartbeatModule, PresenceService, type ClusterStatus } from '../../src/index.js';
import { RedisServer } from './support/redis-server.js';
import { freePort } from '../../lab/ports.js';

class Captured implements LoggerService {
  readonly lines: Array<{ level: string; message: string; context?: string }> = [];
  log(message: unknown, context?: string) { this.lines.push({ level: 'log', message: String(message), context }); }
  warn(message: unknown, context?: string) { this.lines.push({ level: 'warn', message: String(message), context }); }
  error(message: unknown, _trace?: string, context?: string) { this.lines.push({ level: 'error', message: String(message), context }); }
  debug() {}
  verbose() {}
  cluster(level?: string) {
    return this.lines.filter((l) => l.context === 'ClusterPresence' && (level === undefined || l.level === level)).map((l) => l.message);
  }
}

async function boot(nodeId: string, cluster: Record<string, unknown>) {
  const logger = new Captured();
  const ref = await Test.createTestingModule({ imports: [HeartbeatModule.forRoot({ nodeId, cluster: cluster as never })] })
    .setLogger(logger).compile();
  const started = performance.now();
  const app = await ref.init();
  return { app, logger, bootMs: performance.now() - started, cluster: app.get(PresenceService).cluster! };
}

it('Redis unreachable at boot: one warning at boot, degraded, no boot delay; connected and in the view once Redis answers', async () => {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  // The default lease: the old boot waited min(leaseTtlMs, 3000) ms for Redis.
  const { app, logger, bootMs, cluster } = await boot('early', { redis: url, namespace: 'boot' });
  const statuses: ClusterStatus[] = [];
  const sub = cluster.status$.subscribe((s) => statuses.push(s));
  try {
    expect(bootMs).toBeLessThan(1500);
    expect(statuses).toEqual(['degraded']);
    const warnings = logger.cluster('warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`Redis.*127\\.0\\.0\\.1:${port}.*ECONNREFUSED|ECONNREFUSED.*127\\.0\\.0\\.1:${port}`));
    await new Promise((r) => setTimeout(r, 1500));
    expect(logger.cluster('warn')).toHaveLength(1); // not one per retry
    const redis = new RedisServer(port);
    await redis.start();
    try {
      await firstValueFrom(cluster.status$.pipe(filter((s) => s === 'connected'), timeout(8000)));
      expect(cluster.replicas()).toEqual([expect.objectContaining({ nodeId: 'early', self: true })]);
      expect(redis.cli('ZRANGE', '{boot}:leases', '0', '-1')).toContain('early/');
      expect(logger.cluster('warn')).toHaveLength(1);
    } finally {
      await app.close();
      await redis.dispose();
    }
  } finally {
    sub.unsubscribe();
  }
}, 30_000);

describe('with Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis.dispose();
  });

  it('the boot line names the namespace and the replicas already in it, and says when the namespace is the default one', async () => {
    const first = await boot('first', { redis: redis.url, namespace: 'orders', leaseTtlMs: 1000, renewIntervalMs: 200 });
    const second = await boot('second', { redis: redis.url, namespace: 'orders', leaseTtlMs: 1000, renewIntervalMs: 200 });
    const lonely = await boot('lonely', { redis: redis.url, leaseTtlMs: 1000, renewIntervalMs: 200 });
    try {
      const firstId = first.cluster.replicas().find((r) => r.self)!.id;
      const line = second.logger.cluster('log').find((l) => /namespace "orders"/.test(l));
      expect(line).toBeDefined();
      expect(line).toContain(firstId);
      expect(line).toMatch(/1 other replica/);
      expect(first.logger.cluster('log').find((l) => /namespace "orders"/.test(l))).toMatch(/no other replica/);
      const defaultLine = lonely.logger.cluster('log').find((l) => /namespace "nest-heartbeat"/.test(l));
      expect(defaultLine).toMatch(/default/);
      expect(defaultLine).toMatch(/cluster\.namespace/);
    } finally {
      await Promise.all([first.app.close(), second.app.close(), lonely.app.close()]);
    }
  });
});
