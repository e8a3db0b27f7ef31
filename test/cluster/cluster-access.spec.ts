/**
 * Redis that asks who we are: an ACL user allowed only the commands and keys cluster presence
 * needs (the list docs/CLUSTER.md gives), a wrong password (one clear error, `degraded`, no
 * crash), and TLS (`rediss://`, certificates made with openssl here, trusted through
 * NODE_EXTRA_CA_CERTS as an app would). Real redis-server processes, real replica processes.
 */
import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { HeartbeatModule, PresenceService, type ClusterStatus } from '../../src/index.js';
import { selfSigned } from '../support/certs.js';
import { killAll, type LineProcess } from './support/line-process.js';
import { RedisServer } from './support/redis-server.js';
import { connectPeers, LEASE_TTL_MS, RENEW_INTERVAL_MS, sleep, startReplicas, startSwarm, waitCluster } from './support/rig.js';

/** The ACL of docs/CLUSTER.md ("Access control"), for namespace `acl`. */
const ACL_RULES = ['on', '>s3cret', '~{acl}:*', 'resetchannels', '-@all',
  '+evalsha', '+eval', '+xread', '+xrange', '+hgetall', '+info', '+ping',
  '+time', '+hset', '+hdel', '+hget', '+zadd', '+zrem', '+zscore', '+zmscore', '+zrange', '+xadd', '+xrevrange', '+del', '+incr', '+get', '+pexpire'];

let swarm: LineProcess;
beforeEach(async () => {
  swarm = startSwarm();
  await swarm.waitFor((l) => l.evt === 'ready');
});
afterEach(() => killAll());

describe('ACL', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
    redis.cli('ACL', 'SETUSER', 'hb', ...ACL_RULES);
  });
  afterAll(async () => {
    await killAll();
    await redis.dispose();
  });

  it('a user with only the commands the scripts need: register, publish, read, snapshot and reap all work', async () => {
    const url = `redis://hb:s3cret@127.0.0.1:${redis.port}`;
    const [a, b] = await startReplicas(url, 'acl', ['A', 'B']); // B's boot takes a snapshot with A in it
    await connectPeers(swarm, a, ['p-0']);
    await waitCluster(b, 'joined', 'p-0');
    const killedAt = Date.now();
    a.proc.signal('SIGKILL'); // reaped by B: the renew script's ZREM, DEL, HDEL, XADD (the leave script's too)
    const lost = await waitCluster(b, 'lost', 'p-0', killedAt, LEASE_TTL_MS + RENEW_INTERVAL_MS + 3000);
    expect(lost.reason).toBe('replica-lost');
    expect(b.proc.stderr.join('\n')).not.toMatch(/NOPERM|degraded/i);
  });

  it('a wrong password: one clear error, degraded, and the app runs on', async () => {
    const lines: string[] = [];
    const logger: LoggerService = {
      log: () => undefined, debug: () => undefined, verbose: () => undefined,
      warn: (m: unknown, ctx?: string) => { if (ctx === 'ClusterPresence') lines.push(`warn ${String(m)}`); },
      error: (m: unknown, _t?: string, ctx?: string) => { if (ctx === 'ClusterPresence') lines.push(`error ${String(m)}`); },
    };
    const ref = await Test.createTestingModule({
      imports: [HeartbeatModule.forRoot({ nodeId: 'intruder', cluster: { redis: `redis://hb:wrong@127.0.0.1:${redis.port}`, namespace: 'acl', leaseTtlMs: 1000, renewIntervalMs: 200 } })],
    }).setLogger(logger).compile();
    const app = await ref.init();
    const statuses: ClusterStatus[] = [];
    const sub = app.get(PresenceService).cluster!.status$.subscribe((s) => statuses.push(s));
    await sleep(2000);
    sub.unsubscribe();
    expect(statuses).toEqual(['degraded']);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/WRONGPASS/);
    expect(redis.cli('ZRANGE', '{acl}:leases', '0', '-1')).not.toContain('intruder');
    await app.close();
  });
});

describe('TLS', () => {
  let redis: RedisServer;
  let cert: { key: string; cert: string };
  beforeAll(async () => {
    cert = selfSigned('127.0.0.1');
    redis = await RedisServer.start({ tls: cert });
  });
  afterAll(async () => {
    await killAll();
    await redis.dispose();
  });

  it('rediss:// with a certificate the app trusts: a replica process and one given its own client see each other\'s peers', async () => {
    expect(redis.url).toMatch(/^rediss:\/\//);
    const caFile = join(redis.dir, 'ca.pem');
    writeFileSync(caFile, cert.cert);
    // A process trusting the CA through NODE_EXTRA_CA_CERTS, given nothing but the URL…
    const [a] = await startReplicas(redis.url, 'tls', ['A'], { env: { NODE_EXTRA_CA_CERTS: caFile } });
    await connectPeers(swarm, a, ['t-0']);
    // …and an app here given its own ioredis client on the same URL, with the CA.
    const client = new Redis(redis.url, { tls: { ca: cert.cert } });
    const ref = await Test.createTestingModule({
      imports: [HeartbeatModule.forRoot({ nodeId: 'B', cluster: { redis: client, namespace: 'tls', leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_INTERVAL_MS } })],
    }).compile();
    const app = await ref.init();
    try {
      const cluster = app.get(PresenceService).cluster!;
      await firstValueFrom(cluster.peers$.pipe(filter((peers) => peers.some((p) => p.id === 't-0' && p.status === 'alive')), timeout(5000)));
      expect(cluster.replicas().map((r) => r.nodeId).sort()).toEqual(['A', 'B']);
      expect(redis.cli('ZRANGE', '{tls}:leases', '0', '-1').split('\n')).toEqual(expect.arrayContaining([a.id]));
    } finally {
      await app.close();
      await client.quit();
    }
  });
});
