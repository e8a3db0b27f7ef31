import { firstValueFrom } from 'rxjs';
import { PeerLostError, type HeartbeatClient } from '../../src/index.js';
import { startClientApp, waitForEvent } from '../support/apps.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';

/**
 * In-flight requests fail with PeerLostError when the server process dies or hangs; the
 * client reconnects after a restart. The server is a real child process.
 */
const I = 300;
const M = 3;
const heartbeat = { intervalMs: I, missedBeats: M };
const reconnect = { initialDelayMs: 100, maxDelayMs: 400, factor: 2, jitter: 0.2 };

describe('HeartbeatClient when its server dies, hangs or restarts', () => {
  let client: Awaited<ReturnType<typeof startClientApp>> | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await killAllPeers();
  });

  async function connected() {
    // Port 0: the server binds whatever is free and says which. (A restart reuses it: that is the point.)
    const server = new PeerProcess({ nodeId: 'srv', heartbeat, server: { port: 0 } });
    const { port } = await server.ready();
    client = await startClientApp({ nodeId: 'cli', heartbeat, clients: [{ name: 'S', port, reconnect }] });
    const s = client.app.get<HeartbeatClient>('S');
    await s.connect();
    return { server, s, port };
  }

  /** Starts `n` requests the server answers only after 30 s. */
  function inFlight(s: HeartbeatClient, n: number) {
    return Array.from({ length: n }, (_, i) =>
      firstValueFrom(s.send('slow', { ms: 30_000, i })).then(
        () => ({ ok: true as const, at: Date.now(), error: undefined }),
        (error: unknown) => ({ ok: false as const, at: Date.now(), error }),
      ));
  }

  it('SIGKILL: every request in flight rejects with PeerLostError within 1 s', async () => {
    const { server, s } = await connected();
    const pending = inFlight(s, 5);
    await new Promise((r) => setTimeout(r, 200));
    const killedAt = Date.now();
    server.signal('SIGKILL');
    const results = await Promise.all(pending);
    const worst = Math.max(...results.map((r) => r.at - killedAt));
    console.log(`[e2e] SIGKILL: 5 in-flight requests failed within ${worst} ms (bound 1000)`);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(r.error).toBeInstanceOf(PeerLostError);
      expect((r.error as PeerLostError)).toMatchObject({ peerId: 'srv', status: 'lost' });
      expect(['closed-without-goodbye', 'connection-reset']).toContain((r.error as PeerLostError).reason);
    }
    expect(worst).toBeLessThanOrEqual(1000);
  });

  it(`SIGSTOP: every request in flight rejects with PeerLostError (heartbeat-timeout) within intervalMs × missedBeats + intervalMs`, async () => {
    const { server, s } = await connected();
    const pending = inFlight(s, 5);
    await new Promise((r) => setTimeout(r, 200));
    const stoppedAt = Date.now();
    server.signal('SIGSTOP');
    const results = await Promise.all(pending);
    const worst = Math.max(...results.map((r) => r.at - stoppedAt));
    console.log(`[e2e] SIGSTOP: 5 in-flight requests failed within ${worst} ms (bound ${I * M + I})`);
    for (const r of results) {
      expect(r.error).toBeInstanceOf(PeerLostError);
      expect(r.error).toMatchObject({ peerId: 'srv', status: 'lost', reason: 'heartbeat-timeout' });
    }
    expect(worst).toBeLessThanOrEqual(I * M + I);
    const lost = await waitForEvent(client!.events, (e) => e.type === 'lost');
    expect(lost.reason).toBe('heartbeat-timeout');
    server.signal('SIGCONT');
  });

  it('reconnects after a server restart within its backoff bound, and joins again', async () => {
    const { server, s, port } = await connected();
    await server.kill();
    await waitForEvent(client!.events, (e) => e.type === 'lost');
    await new Promise((r) => setTimeout(r, 1500)); // several failed attempts: the delay has grown to its cap
    const restarted = new PeerProcess({ nodeId: 'srv', heartbeat, server: { port } });
    const ready = await restarted.ready();
    const joined = await waitForEvent(client!.events, (e) => e.type === 'joined' && e.at > ready.t, 5000);
    const took = joined.at - ready.t;
    console.log(`[e2e] reconnected ${took} ms after the server was ready again (bound: maxDelayMs ${reconnect.maxDelayMs} + 200 ms)`);
    expect(took).toBeLessThanOrEqual(reconnect.maxDelayMs + 200);
    expect(client!.presence.get('srv')?.stats.reconnects).toBe(1);
    await expect(firstValueFrom(s.send('echo', { again: true }))).resolves.toEqual({ again: true });
  });

  it('stops reconnecting after close()', async () => {
    const { server, s, port } = await connected();
    s.close();
    await server.kill();
    const restarted = new PeerProcess({ nodeId: 'srv', heartbeat, server: { port } });
    await restarted.ready();
    await new Promise((r) => setTimeout(r, 4 * reconnect.maxDelayMs));
    restarted.command({ cmd: 'peers' });
    const table = await restarted.waitFor((l) => l.evt === 'peers');
    expect(table.peers).toEqual([]); // nobody came back
    expect(client!.events.filter((e) => e.type === 'joined')).toHaveLength(1);
  });
});
