import { LOG_LINES_PER_WINDOW, LOG_WINDOW_MS } from '../../src/common/limited-log.js';
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { ClientTCP } from '@nestjs/microservices';
import { connect, type Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import type { HeartbeatClient } from '../../src/index.js';
import { Closer, percentile, sleep, startClientApp, startServerApp, until } from '../support/apps.js';

/**
 * Hostile bytes close only the offending socket, with a logged reason; a healthy client served
 * during the attack sees no error and no delay beyond noise.
 */
const MAX_FRAME = 64 * 1024;
const HANDSHAKE_TIMEOUT = 500;

describe('bad input from the wire', () => {
  let server: Awaited<ReturnType<typeof startServerApp>>;
  let client: Awaited<ReturnType<typeof startClientApp>>;
  let healthy: HeartbeatClient;
  let warnings: string[];

  const closer = new Closer();
  // A fresh server and healthy client per test: no test's assertions depend on another's sockets.
  beforeEach(async () => {
    server = closer.add(await startServerApp({ heartbeat: { intervalMs: 200 }, server: { maxFrameBytes: MAX_FRAME, handshakeTimeoutMs: HANDSHAKE_TIMEOUT } }));
    client = closer.add(await startClientApp({ heartbeat: { intervalMs: 200 }, clients: [{ name: 'S', port: server.port }] }));
    healthy = client.app.get<HeartbeatClient>('S');
    await healthy.connect();
  });
  afterEach(() => closer.closeAll());
  beforeEach(() => {
    warnings = [];
    const warn = Logger.prototype.warn;
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(function (this: Logger, m: unknown, ...rest: unknown[]) {
      warnings.push(String(m));
      if (!/Closing/.test(String(m))) warn.call(this, m, ...rest);
    });
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  /** Healthy request latencies (ms) while `attack` runs; fails the test on any error. */
  async function serveDuring(attack: () => Promise<void>): Promise<number[]> {
    const latencies: number[] = [];
    let done = false;
    const loop = (async () => {
      while (!done) {
        const t0 = performance.now();
        await firstValueFrom(healthy.send('echo', { ok: true }));
        latencies.push(performance.now() - t0);
        await sleep(2);
      }
    })();
    await attack();
    done = true;
    await loop;
    return latencies;
  }

  function open(): Promise<Socket> {
    return new Promise((resolve) => {
      const s = connect(server.port, '127.0.0.1', () => resolve(s));
      s.on('error', () => undefined);
    });
  }

  function closedWithin(s: Socket, ms: number): Promise<number> {
    const t0 = Date.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
      s.on('close', () => {
        clearTimeout(timer);
        resolve(Date.now() - t0);
      });
    });
  }

  /** Healthy latency during the attack stays within noise of the latency measured just before it. */
  async function expectUnaffected(attack: () => Promise<void>, label: string): Promise<void> {
    const before = await serveDuring(() => sleep(300));
    const during = await serveDuring(attack);
    const [b50, b99, d50, d99] = [percentile(before, 50), percentile(before, 99), percentile(during, 50), percentile(during, 99)];
    console.log(`[bad-input] ${label}: healthy p50 ${b50.toFixed(2)} → ${d50.toFixed(2)} ms, p99 ${b99.toFixed(2)} → ${d99.toFixed(2)} ms (${during.length} requests during)`);
    expect(during.length).toBeGreaterThan(10);
    expect(d50).toBeLessThan(Math.max(2, 3 * b50));
    expect(d99).toBeLessThan(Math.max(25, 5 * b99));
  }

  it.each([
    ['garbage bytes', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', /bad length prefix/],
    ['a non-numeric length', 'abc#{"pattern":"echo"}', /bad length prefix/],
    ['a length over maxFrameBytes', `${MAX_FRAME + 1}#{`, /exceeds maxFrameBytes/],
    ['invalid JSON', '12#{not json!!}', /invalid JSON/],
    ['a JSON frame that is not an object', '7#"hello"', /not a JSON object/],
    ['binary noise', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1'), /bad length prefix/],
  ])('%s: closes only that socket, logs why, healthy client unaffected', async (what, payload, reason) => {
    const started = Date.now();
    await expectUnaffected(async () => {
      for (let round = 0; round < 100; round++) {
        const bad = await open();
        const closed = closedWithin(bad, 1000);
        bad.write(payload, 'latin1');
        await closed;
      }
    }, what);
    // Each is logged with its reason, at most LOG_LINES_PER_WINDOW a window: 100 bad sockets cannot flood the log.
    const lines = warnings.filter((w) => reason.test(w) && /\(protocol-error\)/.test(w)).length;
    expect(lines).toBeGreaterThanOrEqual(1);
    expect(lines).toBeLessThanOrEqual(LOG_LINES_PER_WINDOW * (Math.ceil((Date.now() - started) / LOG_WINDOW_MS) + 1));
    expect(server.server.connections).toBe(1); // only the healthy link is left
    expect(server.presence.get('client')?.status).toBe('alive');
  });

  it('a valid frame split into 1-byte writes parses (stock-client style request gets its reply)', async () => {
    const raw = await open();
    const body = JSON.stringify({ pattern: 'echo', data: { split: 'é✓' }, id: 'r1' });
    const frame = `${body.length}#${body}`;
    const reply = new Promise<string>((resolve) => raw.on('data', (d) => resolve(d.toString())));
    for (const byte of Buffer.from(frame)) {
      raw.write(Buffer.from([byte]));
      await sleep(0);
    }
    expect(await reply).toMatch(/"response":\{"split":"é✓"\}.*"id":"r1"|"id":"r1".*"response":\{"split":"é✓"\}/);
    raw.destroy();
  });

  it('many frames in one write all parse and all get replies', async () => {
    const raw = await open();
    const frames = Array.from({ length: 200 }, (_, i) => {
      const body = JSON.stringify({ pattern: 'echo', data: i, id: `m${i}` });
      return `${body.length}#${body}`;
    }).join('');
    let received = '';
    const all = new Promise<void>((resolve) => raw.on('data', (d) => {
      received += d.toString();
      if ((received.match(/"isDisposed":true/g) ?? []).length >= 200) resolve();
    }));
    raw.write(frames);
    await all;
    for (const i of [0, 99, 199]) expect(received).toContain(`"id":"m${i}"`);
    raw.destroy();
  });

  it('no handshake within handshakeTimeoutMs: closed, healthy client unaffected', async () => {
    let took = 0;
    await expectUnaffected(async () => {
      const silent = await open();
      took = await closedWithin(silent, HANDSHAKE_TIMEOUT + 1000);
    }, 'silent connection');
    console.log(`[bad-input] silent connection closed after ${took} ms (handshakeTimeoutMs ${HANDSHAKE_TIMEOUT})`);
    expect(took).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 20);
    expect(took).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT + 200);
    expect(warnings.some((w) => /no handshake or data within 500 ms/.test(w))).toBe(true);
  });

  it('a stock ClientTCP is served despite the handshake timeout (its first frame is data): the same link stays open past it', async () => {
    const stock = new ClientTCP({ port: server.port });
    closer.add(stock);
    await expect(firstValueFrom(stock.send('echo', 'stock'))).resolves.toBe('stock');
    const socket = stock.unwrap<Socket>();
    let closedAt: number | undefined;
    socket.once('close', () => (closedAt = Date.now()));
    const [peer] = server.presence.peers().filter((p) => !p.managed);
    expect(peer).toMatchObject({ status: 'alive', managed: false });
    await sleep(HANDSHAKE_TIMEOUT + 300);
    expect(closedAt).toBeUndefined(); // not closed at handshakeTimeoutMs
    await expect(firstValueFrom(stock.send('echo', 'still'))).resolves.toBe('still');
    expect(stock.unwrap<Socket>()).toBe(socket); // served on the same link, no reconnect
    expect(server.presence.get(peer.id)?.status).toBe('alive');
    expect(server.events.filter((e) => e.peer.id === peer.id).map((e) => e.type)).toEqual(['joined']);
  });

  it('a stock ClientTCP that connects and sends nothing is closed at handshakeTimeoutMs; its next send reconnects and is served', async () => {
    const stock = new ClientTCP({ port: server.port });
    closer.add(stock);
    await stock.connect();
    const socket = stock.unwrap<Socket>();
    const t0 = Date.now();
    const closedAfter = await new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - t0)));
    expect(closedAfter).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 20);
    expect(closedAfter).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT + 200);
    expect(warnings.some((w) => /no handshake or data within 500 ms/.test(w))).toBe(true);
    await expect(firstValueFrom(stock.send('echo', 'after'))).resolves.toBe('after');
    await until(() => server.presence.peers().some((p) => !p.managed && p.status === 'alive'), 2_000, 'the stock client tracked');
  });
});
