import { jest } from '@jest/globals';
import { ClientTCP } from '@nestjs/microservices';
import type { Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import type { HeartbeatClient } from '../../src/index.js';
import { handled, sleep, startClientApp, startServerApp, waitForEvent } from '../support/apps.js';
import { readSocketOptions } from '../support/sockopt.js';

const heartbeat = { intervalMs: 100, missedBeats: 3 };
const keepAlive = { idleMs: 2000, intervalMs: 1000, probes: 3, userTimeoutMs: 7000 };

describe('HeartbeatServer and HeartbeatClient over loopback TCP', () => {
  let server: Awaited<ReturnType<typeof startServerApp>>;
  let client: Awaited<ReturnType<typeof startClientApp>> | undefined;

  beforeEach(async () => {
    handled.length = 0;
    server = await startServerApp({ nodeId: 'server', metadata: { service: 'orders' }, heartbeat, keepAlive });
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await server.close();
  });

  it('serves a stock ClientTCP: request/reply and events, tracked as an unmanaged peer', async () => {
    const stock = new ClientTCP({ port: server.port });
    try {
      await expect(firstValueFrom(stock.send('echo', { n: 1 }))).resolves.toEqual({ n: 1 });
      stock.emit('note', { hello: 'world' });
      await sleep(50);
      expect(handled).toEqual([{ pattern: 'echo', data: { n: 1 } }, { pattern: 'note', data: { hello: 'world' } }]);
      const [peer] = server.presence.peers();
      expect(peer).toMatchObject({ status: 'alive', managed: false, direction: 'inbound' });
      expect(peer.id).toMatch(/^tcp:127\.0\.0\.1:\d+$/);
    } finally {
      stock.close();
    }
  });

  it('HeartbeatClient: request/reply, identity both ways, RTT reported on both sides', async () => {
    client = await startClientApp({ nodeId: 'client', metadata: { service: 'billing' }, heartbeat, keepAlive, clients: [{ name: 'ORDERS', port: server.port }] });
    const orders = client.app.get<HeartbeatClient>('ORDERS');
    await expect(firstValueFrom(orders.send('echo', { n: 2 }))).resolves.toEqual({ n: 2 });
    await sleep(5 * heartbeat.intervalMs);
    const seenByServer = server.presence.get('client');
    const seenByClient = client.presence.get('server');
    expect(seenByServer).toMatchObject({ status: 'alive', direction: 'inbound', managed: true, metadata: { service: 'billing' } });
    expect(seenByClient).toMatchObject({ status: 'alive', direction: 'outbound', managed: true, metadata: { service: 'orders' }, address: `127.0.0.1:${server.port}` });
    for (const peer of [seenByServer!, seenByClient!]) {
      expect(peer.rttMs).toBeGreaterThan(0);
      expect(peer.rttMs).toBeLessThan(50);
    }
    expect(orders.peerId).toBe('server');
  });

  it('no heartbeat frame reaches Nest: handlers and the response path see only data', async () => {
    const dispatched: unknown[] = [];
    const original = (server.server as any).handleMessage.bind(server.server);
    jest.spyOn(server.server as any, 'handleMessage').mockImplementation((socket: unknown, msg: unknown) => {
      dispatched.push(msg);
      return original(socket, msg);
    });
    client = await startClientApp({ heartbeat, clients: [{ name: 'ORDERS', port: server.port }] });
    const orders = client.app.get<HeartbeatClient>('ORDERS');
    const responses: unknown[] = [];
    const handleResponse = (orders as any).handleResponse.bind(orders);
    jest.spyOn(orders as any, 'handleResponse').mockImplementation((msg: unknown) => {
      responses.push(msg);
      return handleResponse(msg);
    });
    for (let i = 0; i < 3; i++) {
      await firstValueFrom(orders.send('echo', { i }));
      await sleep(4 * heartbeat.intervalMs); // idle: heartbeats flow
    }
    const stats = client.presence.get('server')!.stats;
    expect(stats.pingsSent + server.presence.get('client')!.stats.pingsSent).toBeGreaterThan(5);
    expect(dispatched).toHaveLength(3);
    expect(dispatched.every((m) => (m as { pattern: string }).pattern === 'echo')).toBe(true);
    expect(responses).toHaveLength(3);
    expect(responses.every((m) => typeof (m as { id?: string }).id === 'string' && !('$hb' in (m as object)))).toBe(true);
    expect(handled.map((h) => h.pattern)).toEqual(['echo', 'echo', 'echo']);
  });

  it('sets the keepalive options on the live sockets of both sides (read back with getsockopt)', async () => {
    client = await startClientApp({ heartbeat, keepAlive, clients: [{ name: 'ORDERS', port: server.port }] });
    const orders = client.app.get<HeartbeatClient>('ORDERS');
    const expected = { keepAlive: true, keepIdleMs: 2000, keepIntervalMs: 1000, keepCount: 3, userTimeoutMs: 7000, noDelay: true };
    // The server's side, read by a handler from its TcpContext socket.
    await expect(firstValueFrom(orders.send('socket-options', {}))).resolves.toEqual(expected);
    expect(readSocketOptions(orders.unwrap<Socket>())).toEqual(expected);
  });

  it('close() says goodbye: the server records left, not lost', async () => {
    client = await startClientApp({ heartbeat, clients: [{ name: 'ORDERS', port: server.port }] });
    const orders = client.app.get<HeartbeatClient>('ORDERS');
    await firstValueFrom(orders.send('echo', 1));
    orders.close();
    const left = await waitForEvent(server.events, (e) => e.type === 'left' && e.peer.id === 'client', 2000);
    expect(left.peer.status).toBe('left');
    expect(server.events.filter((e) => e.type === 'lost')).toEqual([]);
  });
});
