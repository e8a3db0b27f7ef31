import { firstValueFrom } from 'rxjs';
import { PeerUnavailableError, type HeartbeatClient } from '../../src/index.js';
import { freePort, startClientApp, startServerApp } from '../support/apps.js';

/** Services start in any order: a client that starts before its server waits for it, and says why it cannot reach it. */

test('connect() before the server exists rejects with PeerUnavailableError naming ECONNREFUSED; the client connects once the server is up', async () => {
  const port = await freePort();
  const client = await startClientApp({ clients: [{ name: 'S', port, waitForReadyMs: 10_000, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }] });
  let server: Awaited<ReturnType<typeof startServerApp>> | undefined;
  try {
    const s = client.app.get<HeartbeatClient>('S');
    const error = await s.connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect((error as Error).message).toMatch(/ECONNREFUSED/);
    expect((error as PeerUnavailableError).status).toBe('unknown');
    expect((error as PeerUnavailableError).nextAttemptInMs).toBeGreaterThanOrEqual(0);

    // A request made now waits (waitForReadyMs) for the loop to reach the server.
    const reply = firstValueFrom(s.send('echo', { n: 1 }));
    server = await startServerApp({ nodeId: 'late-server', server: { port } });
    await expect(reply).resolves.toEqual({ n: 1 });
    expect(s.peerId).toBe('late-server');
  } finally {
    await client.close();
    await server?.close();
  }
});
