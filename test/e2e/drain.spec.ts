import { ClientTCP } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { PeerLostError, type HeartbeatClient } from '../../src/index.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';
import { sleep, startClientApp, until } from '../support/apps.js';

/**
 * Deploys: a server that stops gracefully drains first (README "Graceful shutdown"): requests
 * in flight finish, the peers record `left`, and a client sends nothing new on the draining link.
 * The server is a real process stopped with SIGTERM, as a deploy stops it.
 */

afterEach(() => killAllPeers());

async function serverProcess(drainTimeoutMs?: number) {
  const server = new PeerProcess({ nodeId: 'orders', server: { port: 0, ...(drainTimeoutMs === undefined ? {} : { drainTimeoutMs }) } });
  const { port } = await server.ready();
  return { server, port: port as number };
}

async function clientOf(port: number, extra: Record<string, unknown> = {}) {
  const app = await startClientApp({ clients: [{ name: 'ORDERS', port, reconnect: { initialDelayMs: 50, maxDelayMs: 200 }, ...extra }] });
  const client = app.app.get<HeartbeatClient>('ORDERS');
  await client.connect();
  return { ...app, client };
}

test('SIGTERM with 20 requests in flight: all 20 complete, then the client records left (never lost)', async () => {
  const { server, port } = await serverProcess();
  const app = await clientOf(port);
  try {
    const inFlight = Array.from({ length: 20 }, (_, i) => firstValueFrom(app.client.send('slow', { ms: 400, i })).then(
      (reply) => ({ ok: true as const, reply }), (error: unknown) => ({ ok: false as const, error })));
    await sleep(100); // all 20 are at the server, each 300 ms from done
    const stoppedAt = Date.now();
    server.signal('SIGTERM');
    const outcomes = await Promise.all(inFlight);
    const failures = outcomes.filter((o) => !o.ok);
    expect(failures.map((f) => String((f as { error: unknown }).error))).toEqual([]);
    expect(outcomes.map((o) => (o.ok ? (o.reply as { i: number }).i : -1))).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await until(() => app.presence.get('orders')?.status === 'left', 5000, 'orders left');
    const left = app.events.find((e) => e.type === 'left' && e.peer.id === 'orders')!;
    expect(left.at - stoppedAt).toBeGreaterThanOrEqual(250); // it waited for the requests…
    expect(left.at - stoppedAt).toBeLessThan(2000); // …and no longer than they needed
    expect(app.events.filter((e) => e.type === 'lost')).toEqual([]);
    await server.exited;
  } finally {
    await app.close();
  }
}, 30_000);

test('a request made while the server drains is not sent on the draining link: it waits for a new connection (waitForReadyMs) or fails as unavailable', async () => {
  const { server, port } = await serverProcess();
  const app = await clientOf(port, { waitForReadyMs: 20_000 }); // a restart (a new process) takes seconds here
  try {
    const slow = firstValueFrom(app.client.send('slow', { ms: 600 }));
    await sleep(100);
    server.signal('SIGTERM');
    await until(() => app.client['connection'].state !== 'ready', 2000, 'the client saw the drain');
    // The old server no longer accepts; a new one takes the same port (a restart in place).
    const late = firstValueFrom(app.client.send('whoami', {}));
    await expect(slow).resolves.toEqual({ ms: 600 });
    await server.exited;
    const next = new PeerProcess({ nodeId: 'orders-2', server: { port } });
    await next.ready();
    await expect(late).resolves.toMatchObject({ nodeId: 'orders-2' });
    expect(app.events.filter((e) => e.type === 'lost')).toEqual([]);
    expect(app.events.filter((e) => e.peer.id === 'orders').map((e) => e.type)).toEqual(['joined', 'left']);
  } finally {
    await app.close();
  }
}, 30_000);

test('requests still running when drainTimeoutMs ends fail with PeerLostError (left); the stop is bounded', async () => {
  const { server, port } = await serverProcess(300);
  const app = await clientOf(port);
  try {
    const quick = firstValueFrom(app.client.send('slow', { ms: 100 }));
    const stuck = firstValueFrom(app.client.send('slow', { ms: 5000 })).then(() => undefined, (e: unknown) => e);
    await sleep(50);
    const stoppedAt = Date.now();
    server.signal('SIGTERM');
    await expect(quick).resolves.toEqual({ ms: 100 });
    const error = await stuck;
    expect(error).toBeInstanceOf(PeerLostError);
    expect(error).toMatchObject({ status: 'left' });
    expect(Date.now() - stoppedAt).toBeLessThan(300 + 1000);
  } finally {
    await app.close();
  }
}, 30_000);

test('a stock ClientTCP peer is served until the goodbye, as before', async () => {
  const { server, port } = await serverProcess();
  const stock = new ClientTCP({ host: '127.0.0.1', port });
  await stock.connect();
  try {
    const pending = firstValueFrom(stock.send('slow', { ms: 300 }));
    await sleep(50);
    server.signal('SIGTERM');
    await expect(pending).resolves.toEqual({ ms: 300 });
    await server.exited;
  } finally {
    stock.close();
  }
}, 30_000);
