import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { connect, type Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { PeerLostError, type HeartbeatClient, type PresenceEvent } from '../../src/index.js';
import { sleep, startClientApp, startServerApp, waitForEvent } from '../support/apps.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';

/**
 * Issue 12, over real sockets and real processes: incarnations, the server's ping policy, the
 * resume window and the detection budget. Times are measured on this side (the test's clock).
 */
const frame = (o: unknown) => {
  const json = JSON.stringify(o);
  return `${json.length}#${json}`;
};
/** The events recorded after `mark` (an index into the list: event stamps and Date.now() are different clocks). */
const after = (events: PresenceEvent[], mark: number) => events.slice(mark).map((e) => [e.type, e.peer.id, e.reason]);

describe('sessions', () => {
  let server: Awaited<ReturnType<typeof startServerApp>> | undefined;
  let warnings: string[];

  beforeEach(() => {
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await killAllPeers();
    await server?.close();
    server = undefined;
  });

  it('a restarted process with the same nodeId replaces the old one at once: lost (replaced), then joined', async () => {
    // A slow beat (lost after 17.5 s of silence), so the heartbeat bound cannot be what finds the old one.
    server = await startServerApp({ heartbeat: { intervalMs: 5000 } });
    const old = new PeerProcess({ nodeId: 'twin', heartbeat: { intervalMs: 5000 }, clients: [{ name: 'SERVER', port: server.port }] });
    await old.ready();
    await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'twin');
    old.signal('SIGSTOP'); // its link stays open and silent
    const stoppedAt = Date.now();
    const fresh = new PeerProcess({ nodeId: 'twin', heartbeat: { intervalMs: 5000 }, clients: [{ name: 'SERVER', port: server.port }] });
    await fresh.ready();
    const rejoined = await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'twin' && e !== server!.events[0]);
    const replaced = server.events.find((e) => e.type === 'lost' && e.peer.id === 'twin')!;
    expect(replaced.reason).toBe('replaced');
    expect(server.events.indexOf(replaced)).toBeLessThan(server.events.indexOf(rejoined));
    expect(rejoined.at - replaced.at).toBeLessThan(50); // in one handshake
    expect(replaced.at - stoppedAt).toBeLessThan(17_500); // before any heartbeat bound could have found it
    expect(server.presence.get('twin')?.status).toBe('alive');
  });

  it('a client configured to ping every 40 ms against a server floor of 100 ms pings every 100 ms, with one warning', async () => {
    server = await startServerApp({ heartbeat: { intervalMs: 1000 }, server: { minPingIntervalMs: 100 } });
    // Lost after 3 × 40 + 20 = 140 ms of silence: a 100 ms floor still lets it detect (a slower one is refused).
    const client = await startClientApp({ heartbeat: { intervalMs: 40 }, clients: [{ name: 'S', port: server.port }] });
    try {
      await client.app.get<HeartbeatClient>('S').connect();
      const before = client.presence.get('server')!.stats.pingsSent;
      await sleep(2000);
      const pings = client.presence.get('server')!.stats.pingsSent - before;
      expect(pings).toBeGreaterThanOrEqual(10); // ~20 at 100 ms
      expect(pings).toBeLessThanOrEqual(22); // ~50 at 40 ms
      expect(warnings.filter((w) => /no faster than every 100 ms/.test(w))).toHaveLength(1);
      expect(server.events.filter((e) => e.type !== 'joined')).toEqual([]); // never cut, never suspect
    } finally {
      await client.close();
    }
  });

  it('a raw peer pinging every millisecond is closed with too-many-pings after 3 strikes; a healthy client is served throughout', async () => {
    server = await startServerApp({ heartbeat: { intervalMs: 200 }, server: { minPingIntervalMs: 100 } });
    const client = await startClientApp({ heartbeat: { intervalMs: 200 }, clients: [{ name: 'S', port: server.port }] });
    try {
      const healthy = client.app.get<HeartbeatClient>('S');
      await healthy.connect();
      const socket: Socket = connect(server.port, '127.0.0.1');
      let received = '';
      socket.on('data', (d) => (received += d));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(frame({ $hb: 'hello', v: 1, id: 'pinger', inc: 'x', meta: {} }));
      await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'pinger');
      let seq = 0;
      const timer = setInterval(() => socket.writable && socket.write(frame({ $hb: 'ping', seq: ++seq, t: Date.now() })), 1);
      const replies = (async () => {
        for (let i = 0; i < 20; i++) await firstValueFrom(healthy.send('echo', i));
      })();
      await closed;
      clearInterval(timer);
      await replies;
      const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'pinger');
      expect(lost.reason).toBe('too-many-pings');
      expect(seq).toBeGreaterThanOrEqual(4); // the first ping, then 3 strikes
      expect((received.match(/"pong"/g) ?? []).length).toBe(3); // served until the third strike
      expect(received).toContain('"reason":"too-many-pings"'); // told why (GOAWAY)
      expect(server.presence.get('client')?.status).toBe('alive');
    } finally {
      await client.close();
    }
  });

  describe('resume window', () => {
    it('a connection reset under a live client: suspect, then recovered, no lost; requests in flight fail at once with status suspect', async () => {
      server = await startServerApp({ heartbeat: { intervalMs: 200, resumeWindowMs: 2000 } });
      const client = await startClientApp({
        heartbeat: { intervalMs: 200, resumeWindowMs: 2000 },
        clients: [{ name: 'S', port: server.port, reconnect: { initialDelayMs: 100, maxDelayMs: 400 } }],
      });
      try {
        const s = client.app.get<HeartbeatClient>('S');
        await s.connect();
        const inFlight = firstValueFrom(s.send('slow', { ms: 10_000 })).then(() => undefined, (e: unknown) => e);
        await sleep(50);
        const marks = [server.events.length, client.events.length];
        s.unwrap<Socket>().resetAndDestroy(); // a real RST, as a NAT rebinding or an LB idle timeout would send
        const error = await inFlight;
        expect(error).toBeInstanceOf(PeerLostError);
        expect((error as PeerLostError).status).toBe('suspect');
        await waitForEvent(server.events, (e) => e.type === 'recovered' && e.peer.id === 'client' && server!.events.indexOf(e) >= marks[0], 2000);
        await waitForEvent(client.events, (e) => e.type === 'recovered' && e.peer.id === 'server' && client.events.indexOf(e) >= marks[1], 2000);
        await sleep(2200); // past the window
        expect(after(server.events, marks[0])).toEqual([['suspect', 'client', undefined], ['recovered', 'client', undefined]]);
        expect(after(client.events, marks[1])).toEqual([['suspect', 'server', undefined], ['recovered', 'server', undefined]]);
      } finally {
        await client.close();
      }
    });

    it('a SIGKILLed peer with a 500 ms window is lost (closed-without-goodbye) when the window ends', async () => {
      server = await startServerApp({ heartbeat: { intervalMs: 200, resumeWindowMs: 500 } });
      const peer = new PeerProcess({ nodeId: 'doomed', heartbeat: { intervalMs: 200 }, clients: [{ name: 'SERVER', port: server.port }] });
      await peer.ready();
      await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'doomed');
      const t0 = performance.timeOrigin + performance.now(); // the clock events are stamped with
      const mark = server.events.length;
      await peer.kill();
      const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'doomed', 3000);
      expect(['closed-without-goodbye', 'connection-reset']).toContain(lost.reason);
      expect(lost.at - t0).toBeGreaterThanOrEqual(450);
      expect(lost.at - t0).toBeLessThanOrEqual(500 + 200);
      expect(after(server.events, mark).map(([type]) => type)).toEqual(['suspect', 'lost']);
    });

    it('a restarted peer (a new incarnation) inside the window is replaced, not recovered', async () => {
      server = await startServerApp({ heartbeat: { intervalMs: 200, resumeWindowMs: 30_000 } });
      const config = { nodeId: 'phoenix', heartbeat: { intervalMs: 200 }, clients: [{ name: 'SERVER', port: server.port }] };
      const first = new PeerProcess(config);
      await first.ready();
      await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'phoenix');
      const mark = server.events.length;
      await first.kill();
      const second = new PeerProcess(config);
      await second.ready();
      await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'phoenix' && server!.events.indexOf(e) >= mark);
      expect(after(server.events, mark)).toEqual([
        ['suspect', 'phoenix', undefined], ['lost', 'phoenix', 'replaced'], ['joined', 'phoenix', undefined],
      ]);
    });
  });

  describe('one detection budget', () => {
    it.each([
      [400, 3],
      [4000, 2],
    ])('detectWithinMs %i: a hung peer (SIGSTOP) is lost within the budget, in every one of %i trials', async (budget, trials) => {
      server = await startServerApp({ heartbeat: { detectWithinMs: budget } });
      for (let i = 0; i < trials; i++) {
        const id = `hung-${budget}-${i}`;
        const peer = new PeerProcess({ nodeId: id, heartbeat: { detectWithinMs: budget }, clients: [{ name: 'SERVER', port: server.port }] });
        await peer.ready();
        await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === id);
        await sleep(Math.random() * (budget / 4)); // faults at any phase of the beat
        const t0 = performance.timeOrigin + performance.now(); // the clock events are stamped with
        peer.signal('SIGSTOP');
        const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === id, 2 * budget + 1000);
        expect(lost.reason).toBe('heartbeat-timeout');
        expect(lost.at - t0).toBeLessThanOrEqual(budget);
        await peer.kill();
      }
    }, 60_000);
  });
});
