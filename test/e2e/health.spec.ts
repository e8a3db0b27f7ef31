/**
 * HeartbeatHealthIndicator (nest-heartbeat/terminus) in a real terminus health check, against
 * real peer apps in child processes over loopback TCP.
 */
import 'reflect-metadata';
import { Module, ServiceUnavailableException, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { HealthCheckService, TerminusModule, type HealthCheckResult } from '@nestjs/terminus';
import { join } from 'node:path';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { HeartbeatHealthIndicator, HeartbeatHealthModule, type PeerHealthData } from '../../src/health/index.js';
import { HeartbeatModule, HeartbeatServer, PresenceService, type PeerStatus } from '../../src/index.js';
import { LagMeter, testNow } from '../support/lag.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';
import { filesReachedFrom } from '../support/reachable.js';

const INTERVAL_MS = 200; // suspect after 300 ms of silence, lost after 700 ms
const MISSED_BEATS = 3; // the default
/** The contract: a hung peer is lost at most (missedBeats + 1) × intervalMs after the fault. */
const LOST_BOUND_MS = (MISSED_BEATS + 1) * INTERVAL_MS;

@Module({
  imports: [
    // Not global: HeartbeatHealthModule still finds PresenceService.
    HeartbeatModule.forRoot({ nodeId: 'health-server', server: { port: 0 }, heartbeat: { intervalMs: INTERVAL_MS } }),
    TerminusModule.forRoot({ logger: false }),
    HeartbeatHealthModule,
  ],
})
class HealthAppModule {}

let app: INestApplicationContext;
let health: HealthCheckService;
let peers: HeartbeatHealthIndicator;
let presence: PresenceService;
let port: number;

beforeAll(async () => {
  app = await NestFactory.createMicroservice<MicroserviceOptions>(HealthAppModule, {
    inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger: false,
  } as never);
  await (app as unknown as { listen(): Promise<void> }).listen();
  port = app.get(HeartbeatServer).address!.port;
  health = app.get(HealthCheckService);
  peers = app.get(HeartbeatHealthIndicator);
  presence = app.get(PresenceService);
});

afterAll(async () => {
  await killAllPeers();
  await app?.close();
});

function startPeer(nodeId: string, metadata: Record<string, string> = {}): PeerProcess {
  return new PeerProcess({ nodeId, metadata, heartbeat: { intervalMs: INTERVAL_MS }, clients: [{ name: 'SERVER', port }] });
}

/** Resolves when the server sees `id` with `status` (its current status counts). */
function seen(id: string, status: PeerStatus, ms = 10_000): Promise<PeerStatus> {
  return firstValueFrom(presence.watch(id).pipe(filter((s) => s === status), timeout(ms)));
}

async function startAndJoin(...specs: Array<[string, Record<string, string>?]>): Promise<PeerProcess[]> {
  const procs = specs.map(([id, meta]) => startPeer(id, meta));
  await Promise.all(specs.map(([id]) => seen(id, 'alive', 25_000)));
  return procs;
}

/** HealthCheckService.check's result, or the result carried by its ServiceUnavailableException. */
async function checkOutcome(...fns: Array<() => unknown>): Promise<{ threw: boolean; result: HealthCheckResult }> {
  try {
    return { threw: false, result: await health.check(fns as never) };
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    return { threw: true, result: (error as ServiceUnavailableException).getResponse() as HealthCheckResult };
  }
}

const details = (result: HealthCheckResult, key: string) => result.details[key] as unknown as PeerHealthData & { status: string };

describe('HeartbeatHealthIndicator with a terminus health check', () => {
  it('named peer: up with status and rtt while it is alive, down (503) once it crashed', async () => {
    const [peer] = await startAndJoin(['orders-1', { service: 'orders' }]);
    // A few ping/pong rounds give the server a smoothed RTT.
    const deadline = Date.now() + 5000;
    while (presence.get('orders-1')?.rttMs === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

    const result = await health.check([() => peers.isHealthy('orders', 'orders-1')]);
    expect(result.status).toBe('ok');
    const up = details(result, 'orders');
    expect(up).toMatchObject({ status: 'up', alive: 1, required: 1 });
    expect(up.peers).toHaveLength(1);
    expect(up.peers[0]).toMatchObject({ id: 'orders-1', status: 'alive', address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(typeof up.peers[0].rttMs).toBe('number');
    expect(up.peers[0].rttMs).toBeGreaterThanOrEqual(0);
    expect(up.peers[0].rttMs).toBeLessThan(100);
    expect(up.peers[0].lastSeenAgoMs).toBeLessThanOrEqual(2 * INTERVAL_MS);
    expect(result.info).toHaveProperty('orders');

    await peer.kill(); // SIGKILL
    await seen('orders-1', 'lost');
    await expect(health.check([() => peers.isHealthy('orders', 'orders-1')])).rejects.toBeInstanceOf(ServiceUnavailableException);
    const { result: failed } = await checkOutcome(() => peers.isHealthy('orders', 'orders-1'));
    expect(failed.status).toBe('error');
    const down = details(failed, 'orders');
    expect(down).toMatchObject({ status: 'down', alive: 0, required: 1, message: 'not alive: orders-1 (lost)' });
    expect(down.peers[0]).toMatchObject({ id: 'orders-1', status: 'lost' });
    expect(failed.error).toHaveProperty('orders');
  });

  it('named peers: down after a hang (SIGSTOP, heartbeat timeout) and after a graceful shutdown (left)', async () => {
    const [hung, leaving] = await startAndJoin(['orders-2'], ['orders-3']);
    const check = () => peers.isHealthy('orders', ['orders-2', 'orders-3']);
    expect((await checkOutcome(check)).result.status).toBe('ok');
    expect(details((await checkOutcome(check)).result, 'orders')).toMatchObject({ status: 'up', alive: 2, required: 2 });

    const lag = new LagMeter().start();
    const stoppedAt = testNow();
    hung.signal('SIGSTOP');
    await seen('orders-2', 'lost');
    const tookMs = testNow() - stoppedAt;
    // Lost within (missedBeats + 1) × interval of the hang, stretched only by this process's own
    // loop stalls (measured here, not taken from the code under test).
    const stall = lag.blockedSince(stoppedAt - INTERVAL_MS);
    lag.stop();
    expect(tookMs).toBeLessThanOrEqual(LOST_BOUND_MS + stall);
    let outcome = await checkOutcome(check);
    expect(outcome.threw).toBe(true);
    expect(details(outcome.result, 'orders')).toMatchObject({ status: 'down', alive: 1, required: 2, message: 'not alive: orders-2 (lost)' });

    hung.signal('SIGCONT');
    await hung.kill();
    await leaving.stop(); // the app's own close: goodbye
    await seen('orders-3', 'left');
    outcome = await checkOutcome(check);
    expect(outcome.threw).toBe(true);
    const down = details(outcome.result, 'orders');
    expect(down.peers.map((p) => [p.id, p.status])).toEqual([['orders-2', 'lost'], ['orders-3', 'left']]);
  });

  it('named peer that never joined: down with status unknown', async () => {
    const { threw, result } = await checkOutcome(() => peers.isHealthy('ghost', 'no-such-peer'));
    expect(threw).toBe(true);
    expect(details(result, 'ghost')).toMatchObject({
      status: 'down', alive: 0, required: 1, message: 'not alive: no-such-peer (unknown)',
      peers: [{ id: 'no-such-peer', status: 'unknown', rttMs: null, lastSeenAgoMs: null }],
    });
  });

  it('quorum: at least minAlive peers matching a metadata filter, and a predicate filter', async () => {
    const [b1, b2] = await startAndJoin(
      ['billing-1', { service: 'billing' }], ['billing-2', { service: 'billing' }], ['billing-3', { service: 'billing' }],
      ['audit-1', { service: 'audit' }],
    );
    const billing = () => peers.isHealthy('billing', { filter: { metadata: { service: 'billing' } }, minAlive: 2 });
    const audit = () => peers.isHealthy('audit', { filter: (p) => p.metadata.service === 'audit' }); // minAlive 1

    let outcome = await checkOutcome(billing, audit);
    expect(outcome.result.status).toBe('ok');
    const all = details(outcome.result, 'billing');
    expect(all).toMatchObject({ status: 'up', alive: 3, required: 2 });
    expect(all.peers.map((p) => p.id).sort()).toEqual(['billing-1', 'billing-2', 'billing-3']); // only matching peers
    expect(details(outcome.result, 'audit')).toMatchObject({ status: 'up', alive: 1, required: 1, peers: [{ id: 'audit-1', status: 'alive' }] });

    await b1.stop();
    await seen('billing-1', 'left');
    outcome = await checkOutcome(billing, audit);
    expect(outcome.result.status).toBe('ok'); // 2 of 3 still meets minAlive 2
    const two = details(outcome.result, 'billing');
    expect(two).toMatchObject({ status: 'up', alive: 2, required: 2 });
    expect(two.peers.find((p) => p.id === 'billing-1')?.status).toBe('left');

    await b2.kill();
    await seen('billing-2', 'lost');
    outcome = await checkOutcome(billing, audit);
    expect(outcome.threw).toBe(true);
    expect(outcome.result.status).toBe('error');
    expect(details(outcome.result, 'billing')).toMatchObject({ status: 'down', alive: 1, required: 2 });
    expect(details(outcome.result, 'billing').message).toMatch(/^1 of 3 matching peers alive, 2 required; not alive: .*billing-2 \(lost\)/);
    expect(outcome.result.error).toHaveProperty('billing');
    expect(outcome.result.info).toHaveProperty('audit'); // the other indicator is still up
    expect(outcome.result.info).not.toHaveProperty('billing');
  });

  it('suspect peers count as alive; with degradeOnSuspect the check is degraded (not an error), then up again', async () => {
    const [peer] = await startAndJoin(['cache-1', { service: 'cache' }]);
    peer.signal('SIGSTOP');
    try {
      await seen('cache-1', 'suspect');
      const plain = await health.check([() => peers.isHealthy('cache', 'cache-1')]);
      expect(plain.status).toBe('ok');
      expect(details(plain, 'cache').peers[0].status).toBe('suspect');
      const degraded = await health.check([
        () => peers.isHealthy('cache', 'cache-1', { degradeOnSuspect: true }),
        () => peers.isHealthy('caches', { filter: { metadata: { service: 'cache' } }, degradeOnSuspect: true }),
      ]);
      expect(degraded.status).toBe('degraded');
      expect(details(degraded, 'cache')).toMatchObject({ status: 'degraded', alive: 1, message: 'relies on suspect peers: cache-1' });
      expect(details(degraded, 'caches')).toMatchObject({ status: 'degraded', alive: 1, required: 1 });
    } finally {
      peer.signal('SIGCONT');
    }
    await seen('cache-1', 'alive');
    const again = await health.check([() => peers.isHealthy('cache', 'cache-1', { degradeOnSuspect: true })]);
    expect(again.status).toBe('ok');
    expect(presence.get('cache-1')?.stats.suspectCount).toBe(1);
  });

  it('rejects bad arguments', () => {
    expect(() => peers.isHealthy('x', [])).toThrow(TypeError);
    expect(() => peers.isHealthy('x', { minAlive: -1 })).toThrow(/minAlive must be an integer >= 0/);
    expect(() => peers.isHealthy('x', { minAlive: 1.5 })).toThrow(TypeError);
  });
});

describe('HeartbeatHealthIndicator wiring', () => {
  it('works as a plain provider next to HeartbeatModule, without peers', async () => {
    @Module({ imports: [HeartbeatModule.forRoot({}), TerminusModule.forRoot({ logger: false })], providers: [HeartbeatHealthIndicator] })
    class PlainModule {}
    const ctx = await NestFactory.createApplicationContext(PlainModule, { logger: false });
    try {
      const indicator = ctx.get(HeartbeatHealthIndicator);
      const check = ctx.get(HealthCheckService);
      expect((await check.check([() => indicator.isHealthy('any', { minAlive: 0 })])).status).toBe('ok');
      await expect(check.check([() => indicator.isHealthy('any', {})])).rejects.toMatchObject({
        response: { status: 'error', details: { any: { status: 'down', alive: 0, required: 1, peers: [], message: '0 of 0 matching peers alive, 1 required' } } },
      });
    } finally {
      await ctx.close();
    }
  });

  it('fails at boot with a clear message when the application has no HeartbeatModule', async () => {
    @Module({ imports: [HeartbeatHealthModule] })
    class NoPresenceModule {}
    await expect(NestFactory.createApplicationContext(NoPresenceModule, { logger: false, abortOnError: false }).then((c) => c.init()))
      .rejects.toThrow(/no PresenceService in this application; import HeartbeatModule/);
  });

  it('the package root never loads @nestjs/terminus (it is an optional peer dependency)', () => {
    const seenFiles = filesReachedFrom();
    for (const text of seenFiles.values()) expect(text).not.toMatch(/['"]@nestjs\/terminus['"]/);
    expect(seenFiles.size).toBeGreaterThan(10);
    expect([...seenFiles.keys()].some((f) => f.includes(`${join('src', 'health')}`))).toBe(false);
  });
});
