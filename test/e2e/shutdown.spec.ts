import { firstValueFrom } from 'rxjs';
import type { HeartbeatClient } from '../../src/index.js';
import { Closer, sleep, startClientApp, startServerApp, waitForEvent } from '../support/apps.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';

/** app.close() says goodbye on every link and releases every socket and timer. */
function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

describe('shutdown', () => {
  // Apps a failed assertion left open are closed here (closing twice is harmless).
  const closer = new Closer();
  afterEach(async () => {
    await closer.closeAll();
    await killAllPeers();
  });

  it('leaves no socket, server or timer behind', async () => {
    await sleep(50);
    const before = handles();
    const server = closer.add(await startServerApp({ heartbeat: { intervalMs: 100 } }));
    const client = closer.add(await startClientApp({ heartbeat: { intervalMs: 100 }, clients: [{ name: 'S', port: server.port }] }));
    await firstValueFrom(client.app.get<HeartbeatClient>('S').send('echo', 1));
    await sleep(300);
    const during = handles();
    await client.close();
    await server.close();
    // Gone within a bound: a loaded machine may take a few ms more to finish the FIN exchange.
    const kinds = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'];
    const leftover = () => kinds.filter((kind) => (handles()[kind] ?? 0) > (before[kind] ?? 0));
    const deadline = Date.now() + 1000;
    while (leftover().length > 0 && Date.now() < deadline) await sleep(20);
    const after = handles();
    expect(during.TCPSocketWrap).toBeGreaterThanOrEqual(2); // the check can see what it looks for
    for (const kind of kinds) {
      expect({ kind, count: after[kind] ?? 0 }).toEqual({ kind, count: Math.min(after[kind] ?? 0, before[kind] ?? 0) });
    }
  });

  it('sends goodbye on every link, inbound and outbound: peers record left', async () => {
    const server = closer.add(await startServerApp({ heartbeat: { intervalMs: 100 } }));
    const inbound = new PeerProcess({ nodeId: 'in', heartbeat: { intervalMs: 100 }, clients: [{ name: 'S', port: server.port, reconnect: { initialDelayMs: 5000, maxDelayMs: 5000 } }] });
    const outboundTarget = new PeerProcess({ nodeId: 'out', heartbeat: { intervalMs: 100 }, server: { port: 0 } });
    const { port } = await outboundTarget.ready();
    await inbound.ready();
    const client = closer.add(await startClientApp({ nodeId: 'server', heartbeat: { intervalMs: 100 }, clients: [{ name: 'O', port }] }));
    await client.app.get<HeartbeatClient>('O').connect();
    await inbound.presence('joined', 'server');
    await outboundTarget.presence('joined', 'server');
    await Promise.all([client.close(), server.close()]);
    const [a, b] = await Promise.all([inbound.presence('left', 'server', 0, 2000), outboundTarget.presence('left', 'server', 0, 2000)]);
    expect(a.status).toBe('left');
    expect(b.status).toBe('left');
  });

  it('a client closed while its handshake is under way says goodbye once welcomed: the server records it joined and left, never lost', async () => {
    // The server takes 50 ms to check the hello: the client closes in that window, as an app that
    // stops right after starting does (the README's failover example, once one instance answered).
    let checking!: () => void;
    const checked = new Promise<void>((resolve) => (checking = resolve));
    const server = closer.add(await startServerApp({
      heartbeat: { intervalMs: 100 },
      server: { authenticate: async () => { checking(); await sleep(50); return true; } },
    }));
    const client = closer.add(await startClientApp({ nodeId: 'brief', heartbeat: { intervalMs: 100 }, clients: [{ name: 'S', port: server.port }] }));
    await checked;
    await client.close();
    await waitForEvent(server.events, (e) => e.type === 'left' && e.peer.id === 'brief', 2000);
    expect(server.events.filter((e) => e.peer.id === 'brief').map((e) => e.type)).toEqual(['joined', 'left']);
  });
});
