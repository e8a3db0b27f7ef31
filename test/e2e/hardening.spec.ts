import { LOG_LINES_PER_WINDOW, LOG_WINDOW_MS } from '../../src/common/limited-log.js';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import { HandshakeError, PeerUnavailableError, type HeartbeatClient } from '../../src/index.js';
import { handled, sleep, startClientApp, startServerApp, waitForEvent } from '../support/apps.js';
import { fullGc } from '../support/heap.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';

/**
 * Issue 10: every edge closes, every state ends. Real sockets against a real HeartbeatServer;
 * each case reproduces a reported failure (a socket that stayed open, memory that grew, a
 * retry storm) and asserts what a user would see.
 */
const frame = (o: unknown) => {
  const json = JSON.stringify(o);
  return `${json.length}#${json}`;
};
const hello = (id: string, extra: Record<string, unknown> = {}) => frame({ $hb: 'hello', v: 1, id, meta: {}, ...extra });

/** A raw socket to the server, with the time its 'close' fired (undefined while open). */
async function raw(port: number, { allowHalfOpen = false } = {}): Promise<{ socket: Socket; closedAt: () => number | undefined; closed: Promise<number> }> {
  // allowHalfOpen: the peer answers the server's FIN with nothing and keeps its own side open.
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen });
  socket.on('error', () => undefined);
  socket.resume(); // read (and drop) what the server sends, so its FIN is seen
  let at: number | undefined;
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve((at = performance.now()))));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closedAt: () => at, closed };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, sleep(ms).then(() => { throw new Error(`${what} not within ${ms} ms`); })]);
}

function heapAfterGc(): number {
  fullGc();
  fullGc();
  return process.memoryUsage().heapUsed;
}

describe('hardening: links that never end', () => {
  let server: Awaited<ReturnType<typeof startServerApp>>;
  let warnings: string[];
  const GRACE_BOUND = 1000; // the bound; the library's grace is 200 ms + one tick

  beforeAll(async () => {
    server = await startServerApp({ heartbeat: { intervalMs: 100 }, server: { authToken: 's3cret', handshakeTimeoutMs: 500 } });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    warnings = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    handled.length = 0;
  });
  afterEach(() => jest.restoreAllMocks());

  it('50 unauthenticated sockets whose only frame is bye are closed at once, as protocol errors', async () => {
    const peers = await Promise.all(Array.from({ length: 50 }, () => raw(server.port)));
    const t0 = performance.now();
    for (const p of peers) p.socket.write(frame({ $hb: 'bye' }));
    const closedAt = await within(Promise.all(peers.map((p) => p.closed)), GRACE_BOUND, 'all 50 closed');
    expect(Math.max(...closedAt) - t0).toBeLessThan(GRACE_BOUND);
    // Logged with the reason, but no more than LOG_LINES_PER_WINDOW lines of a kind per window.
    const lines = warnings.filter((w) => /unexpected "bye".*protocol-error/.test(w)).length;
    expect(lines).toBeGreaterThanOrEqual(1);
    expect(lines).toBeLessThanOrEqual(LOG_LINES_PER_WINDOW);
    expect(server.server.connections).toBe(0);
  });

  it('a handshaken peer that says bye and holds its socket open is left, cut within the grace, and nothing after bye is served', async () => {
    const p = await raw(server.port, { allowHalfOpen: true });
    p.socket.write(hello('holder', { token: 's3cret' }));
    await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'holder');
    const t0 = performance.now();
    // bye, then a request in the same write: it must not reach the handler.
    p.socket.write(frame({ $hb: 'bye' }) + frame({ pattern: 'echo', data: 'after-bye', id: 'x1' }));
    const left = await waitForEvent(server.events, (e) => e.type === 'left' && e.peer.id === 'holder', GRACE_BOUND);
    expect(left.peer.status).toBe('left');
    // The peer never closes its side: the server's socket is destroyed all the same.
    while (server.server.connections > 0 && performance.now() - t0 < GRACE_BOUND) await sleep(5);
    expect(server.server.connections).toBe(0);
    expect(performance.now() - t0).toBeLessThan(GRACE_BOUND);
    expect(handled).toEqual([]);
    p.socket.destroy();
  });

  it('a client-sent reject whose message cannot be printed is a protocol error, closed at once', async () => {
    const p = await raw(server.port);
    p.socket.write(hello('rejecter', { token: 's3cret' }));
    await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'rejecter');
    p.socket.write(frame({ $hb: 'reject', reason: 'auth-failed', message: { toString: 1 } }));
    await within(p.closed, GRACE_BOUND, 'rejecter closed');
    const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'rejecter');
    expect(lost.reason).toBe('protocol-error');
  });

  it('refuses a hello over the identity limits and logs peer strings escaped and cut', async () => {
    // Its own server: the tests above spent this window's protocol-error log lines.
    const server = await startServerApp({ heartbeat: { intervalMs: 100 }, server: { authToken: 's3cret', handshakeTimeoutMs: 500 } });
    try {
      const p = await raw(server.port);
      p.socket.write(hello(`evil\n${'x'.repeat(300)}`, { token: 's3cret' }));
      await within(p.closed, GRACE_BOUND, 'closed');
      const line = warnings.find((w) => /malformed hello/.test(w))!;
      expect(line).toMatch(/nodeId must be at most 256 characters/);
      const q = await raw(server.port);
      q.socket.write(hello('ok', { token: 's3cret' }) + frame({ $hb: 'evil\nline'.repeat(100) }));
      await within(q.closed, GRACE_BOUND, 'closed');
      const unexpected = warnings.find((w) => /unexpected/.test(w))!;
      expect(unexpected).not.toContain('\n');
      expect(unexpected.length).toBeLessThan(400);
    } finally {
      await server.close();
    }
  });

  it('a ping with a non-numeric seq is a protocol error; a pong stamped 0 sets no RTT', async () => {
    const p = await raw(server.port);
    let received = '';
    p.socket.on('data', (d) => (received += d));
    p.socket.write(hello('pinger', { token: 's3cret' }));
    await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'pinger');
    p.socket.write(frame({ $hb: 'pong', seq: 0, t: 0 }));
    await sleep(50);
    const rtt = server.presence.get('pinger')?.rttMs;
    expect(rtt === undefined || rtt < 1000).toBe(true);
    p.socket.write(frame({ $hb: 'ping', seq: 'x', t: 1 }));
    await within(p.closed, GRACE_BOUND, 'closed');
    expect(received).not.toContain('"pong"');
    const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'pinger');
    expect(lost.reason).toBe('protocol-error');
  });
});

describe('hardening: memory that grows without bound', () => {
  afterEach(() => jest.restoreAllMocks());

  it('cuts a stock client that never reads, like any other peer', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // No TCP_USER_TIMEOUT: Linux would also give up on the zero window after it (keepalive-timeout)
    // and race the check under test, which is ours: the replies queued in user space.
    const server = await startServerApp({
      heartbeat: { intervalMs: 100 }, keepAlive: { userTimeoutMs: 0 }, server: { maxFrameBytes: 1024 * 1024 },
    });
    try {
      const p = await raw(server.port);
      p.socket.pause(); // never reads: the replies queue in the server
      // A small first request (a stock client's first frame is its handshake: at most 64 KiB), then big ones.
      p.socket.write(frame({ pattern: 'echo', data: 'hi', id: 'first' }));
      await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id.startsWith('tcp:'), 5000);
      const payload = 'x'.repeat(1000 * 1000);
      for (let i = 0; i < 100; i++) p.socket.write(frame({ pattern: 'echo', data: payload, id: `r${i}` }));
      const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id.startsWith('tcp:'), 15_000);
      expect(lost.peer.managed).toBe(false);
      expect(lost.reason).toBe('protocol-error');
      p.socket.destroy();
    } finally {
      await server.close();
    }
  });

  it('does not keep the patterns of messages that have no handler', async () => {
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const server = await startServerApp({ heartbeat: { intervalMs: 100 }, server: { maxFrameBytes: 2 * 1024 * 1024 } });
    try {
      const before = heapAfterGc();
      const p = await raw(server.port);
      for (let i = 0; i < 60; i++) {
        p.socket.write(frame({ pattern: `${i}-${'p'.repeat(1024 * 1024)}`, data: 1, id: `m${i}` }));
        await sleep(5);
      }
      await sleep(300);
      p.socket.destroy();
      await p.closed;
      await sleep(200);
      const grown = heapAfterGc() - before;
      expect(grown).toBeLessThan(20 * 1024 * 1024); // 60 × 1 MiB (×2 bytes per char) stayed before the fix
    } finally {
      await server.close();
    }
  });
});

describe('hardening: errors that say what happened, requests while the peer is down', () => {
  afterEach(async () => {
    jest.restoreAllMocks();
    await killAllPeers();
  });

  it('a refused token: connect() says so, the log says so once, retries come no faster than maxDelayMs', async () => {
    const serverWarnings: string[] = [];
    const clientErrors: string[] = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => void serverWarnings.push(String(m)));
    jest.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => void clientErrors.push(String(m)));
    const server = await startServerApp({ heartbeat: { intervalMs: 100 }, server: { authToken: 'right' } });
    const client = await startClientApp({
      heartbeat: { intervalMs: 100 },
      clients: [{ name: 'S', port: server.port, authToken: 'wrong', reconnect: { initialDelayMs: 10, maxDelayMs: 400, factor: 1, jitter: 0 } }],
    });
    try {
      const s = client.app.get<HeartbeatClient>('S');
      const error = await s.connect().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(HandshakeError);
      expect((error as HandshakeError).message).toMatch(/refused our auth token/);
      expect((error as HandshakeError).closeCause).toBe('auth-failed');
      await sleep(1500);
      const refusals = serverWarnings.filter((w) => /auth-failed/.test(w) && /Closing/.test(w)).length;
      expect(refusals).toBeGreaterThanOrEqual(2);
      expect(refusals).toBeLessThanOrEqual(1 + Math.ceil(1500 / 400) + 1); // every 10 ms without the fix: ~150
      expect(clientErrors.filter((l) => /refuses our auth token/.test(l))).toHaveLength(1);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it('1,000 calls while the server is down fail at once with PeerUnavailableError; the backoff alone decides the connection attempts', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // A listener that accepts and drops every connection: each accept is one attempt of the client.
    let accepts = 0;
    const counter: Server = createServer((socket) => {
      accepts++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => counter.listen(0, '127.0.0.1', resolve));
    const port = (counter.address() as { port: number }).port;
    const client = await startClientApp({
      heartbeat: { intervalMs: 100 },
      clients: [{ name: 'S', port, reconnect: { initialDelayMs: 100, maxDelayMs: 400, factor: 2, jitter: 0 } }],
    });
    try {
      const s = client.app.get<HeartbeatClient>('S');
      await sleep(150); // the first attempt failed: the loop waits for its next one
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: 1000 }, () =>
        firstValueFrom(s.send('echo', 1)).then(() => 'ok', (e: unknown) => e)));
      const elapsed = performance.now() - t0;
      expect(results.every((r) => r instanceof PeerUnavailableError)).toBe(true);
      const first = results[0] as PeerUnavailableError;
      expect(first.status).toBe('unknown');
      expect(first.peerId).toBeUndefined();
      expect(first.nextAttemptInMs).toBeGreaterThanOrEqual(0);
      expect(elapsed).toBeLessThan(1000);
      await sleep(2000);
      // Schedule over ~2.2 s with jitter 0: attempts at 0, 100, 300, 700, 1100, 1500, 1900, 2300 ms.
      expect(accepts).toBeLessThanOrEqual(9);
    } finally {
      await client.close();
      counter.close();
    }
  });

  it('with waitForReadyMs, calls made while the server is down succeed once it is back', async () => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const probe = await startServerApp({ heartbeat: { intervalMs: 100 } });
    const port = probe.port;
    await probe.close(); // the port is free now: the server is "down"
    const client = await startClientApp({
      heartbeat: { intervalMs: 100 },
      clients: [{ name: 'S', port, waitForReadyMs: 2000, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }],
    });
    let server: Awaited<ReturnType<typeof startServerApp>> | undefined;
    try {
      const s = client.app.get<HeartbeatClient>('S');
      const calls = Array.from({ length: 20 }, (_, i) => firstValueFrom(s.send('echo', i)));
      await sleep(500);
      server = await startServerApp({ nodeId: 'late-server', heartbeat: { intervalMs: 100 }, server: { port } });
      await expect(Promise.all(calls)).resolves.toEqual(Array.from({ length: 20 }, (_, i) => i));
    } finally {
      await client.close();
      await server?.close();
    }
  });

  it('close() against a hung server ends within the grace: no half-closed socket keeps the process alive', async () => {
    const hung = new PeerProcess({ nodeId: 'hung', heartbeat: { intervalMs: 200 }, server: { port: 0 } });
    const { port } = (await hung.ready()) as unknown as { port: number };
    const client = await startClientApp({ heartbeat: { intervalMs: 200 }, clients: [{ name: 'S', port }] });
    const s = client.app.get<HeartbeatClient>('S');
    await s.connect();
    const socket = s.unwrap<Socket>();
    hung.signal('SIGSTOP');
    const t0 = performance.now();
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
    await client.close();
    const closedAt = await within(closed, 1000, 'client socket destroyed');
    expect(closedAt - t0).toBeLessThan(1000);
    expect(socket.destroyed).toBe(true);
  });
});
