import { Logger } from '@nestjs/common';
import { HandshakeError } from '../../src/errors/handshake.error.js';
import { PeerLostError } from '../../src/errors/peer-lost.error.js';
import { PeerUnavailableError } from '../../src/errors/peer-unavailable.error.js';
import type { CloseCause, PeerStatus } from '../../src/interfaces/presence.interface.js';
import { resolveHeartbeatOptions } from '../../src/options/resolve-options.js';
import { HeartbeatTicker } from '../../src/detector/heartbeat-ticker.js';
import { ClientConnection, type ConnectionHost, type ConnectionLink } from '../../src/transport/client-connection.js';
import { VirtualClock } from '../support/virtual-peer.js';

/**
 * HeartbeatClient's connection state machine on virtual time: a scripted host stands in for
 * Nest's ClientTCP (the behaviour under test is the loop's timing and its errors, not the
 * socket's; test/e2e covers the same client over real sockets).
 */

class FakeLink implements ConnectionLink {
  peerId = '';
  cause: CloseCause | undefined;
  lastError: string | undefined;
  refusal: { reason: string; message: string } | undefined;
  closedWith: CloseCause | undefined;
  constructor(readonly dialledAt: number) {}
  close(cause: CloseCause = 'local'): void {
    this.closedWith = cause;
  }
}

function world(client: Record<string, unknown> = {}, random = () => 0.5) {
  const clock = new VirtualClock();
  const options = resolveHeartbeatOptions({ clients: [{ name: 'S', host: '10.0.0.1', port: 4000, ...client }] });
  const ticker = new HeartbeatTicker(options.heartbeat.rule, clock.scheduler);
  const links: FakeLink[] = [];
  const failed: Array<{ link: FakeLink; error: Error }> = [];
  const statuses = new Map<string, PeerStatus>();
  const host: ConnectionHost<FakeLink> = {
    dial: () => {
      const link = new FakeLink(clock.now);
      links.push(link);
      return link;
    },
    failInFlight: (link, error) => void failed.push({ link, error }),
    statusOf: (id) => statuses.get(id),
  };
  const lines: Array<{ level: string; message: string }> = [];
  const logger = new Logger('test');
  for (const level of ['log', 'warn', 'error'] as const) logger[level] = (m: unknown) => void lines.push({ level, message: String(m) });
  const connection = new ClientConnection('10.0.0.1:4000', options.clients[0], host, ticker, logger, random);
  const last = () => links[links.length - 1];
  return {
    clock, connection, links, failed, statuses, lines, last,
    /** The current attempt's socket connects and the server welcomes it as `id`. */
    open(id = 'orders-1') {
      const link = last();
      connection.connected(link);
      link.peerId = id;
      connection.opened(link);
      return link;
    },
    /** The current attempt cannot connect. */
    refused(code = 'ECONNREFUSED') {
      const link = last();
      link.lastError = code;
      link.cause = 'closed-without-goodbye';
      connection.closed(link);
    },
    /** A link ends for `cause`. */
    end(link: FakeLink, cause: CloseCause) {
      link.cause = cause;
      connection.closed(link);
    },
    dialTimes: () => links.map((l) => l.dialledAt),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('ClientConnection (HeartbeatClient on virtual time)', () => {
  it('dials at once, then backs off exponentially to maxDelayMs while the server is down, and resets after a success', () => {
    const w = world({ reconnect: { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0 } });
    w.connection.connect().catch(() => undefined);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const attempts = w.links.length;
      w.refused();
      const refusedAt = w.clock.now;
      while (w.links.length === attempts) w.clock.advance(1);
      waits.push(w.clock.now - refusedAt);
    }
    expect(waits).toEqual([100, 200, 400, 800, 1000, 1000]);
    w.open();
    expect(w.connection.state).toBe('ready');
    w.end(w.last(), 'connection-reset');
    expect(w.connection.state).toBe('backoff');
    const lostAt = w.clock.now;
    w.clock.advance(1000);
    expect(w.last().dialledAt - lostAt).toBe(100); // the schedule starts over
  });

  it('spreads attempts by ± jitter', () => {
    const low = world({ reconnect: { initialDelayMs: 1000, jitter: 0.2 } }, () => 0);
    const high = world({ reconnect: { initialDelayMs: 1000, jitter: 0.2 } }, () => 1);
    for (const w of [low, high]) {
      w.connection.connect().catch(() => undefined);
      w.refused();
      w.clock.advance(2000);
    }
    expect(low.dialTimes()[1]).toBe(800);
    expect(high.dialTimes()[1]).toBe(1200);
  });

  it('connect() with the server down rejects with PeerUnavailableError naming the cause, and the loop goes on', async () => {
    const w = world();
    const connecting = w.connection.connect();
    w.refused('ECONNREFUSED');
    const error = await connecting.then(() => undefined, (e: Error) => e);
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect(error!.message).toMatch(/ECONNREFUSED/);
    expect(error!.message).not.toMatch(/^\S+ .*\(unknown\)$/);
    expect((error as PeerUnavailableError).nextAttemptInMs).toBe(200);
    w.clock.advance(200);
    expect(w.links).toHaveLength(2);
    w.open();
    await expect(w.connection.connect()).resolves.toBeUndefined();
  });

  it('connect() once the socket connected but the server refused: HandshakeError with the refusal', async () => {
    const w = world({ authToken: 'wrong' });
    const connecting = w.connection.connect();
    const link = w.last();
    w.connection.connected(link);
    link.refusal = { reason: 'auth-failed', message: 'wrong auth token' };
    w.end(link, 'auth-failed');
    const error = await connecting.then(() => undefined, (e: Error) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).closeCause).toBe('auth-failed');
    expect(error!.message).toMatch(/refused our auth token/);
  });

  it('a refusal is retried at maxDelayMs and logged once, however many attempts', () => {
    const w = world({ reconnect: { initialDelayMs: 10, maxDelayMs: 400, jitter: 0 } });
    w.connection.connect().catch(() => undefined);
    for (let i = 0; i < 5; i++) {
      const link = w.last();
      w.connection.connected(link);
      link.refusal = { reason: 'auth-failed', message: 'no auth token (this server requires one)' };
      w.end(link, 'auth-failed');
      w.clock.advance(400);
    }
    const times = w.dialTimes();
    expect(times.slice(1).map((t, i) => t - times[i])).toEqual([400, 400, 400, 400, 400]);
    const errors = w.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    // A client that presented no token is told it needs one, not that its token was refused.
    expect(errors[0].message).toMatch(/requires an auth token and this client has none/);
  });

  it('waits at least maxDelayMs after the server cut it for pinging too fast', () => {
    const w = world({ reconnect: { initialDelayMs: 50, maxDelayMs: 3000, jitter: 0 } });
    w.connection.connect().catch(() => undefined);
    const link = w.open();
    w.end(link, 'too-many-pings');
    w.clock.advance(2999);
    expect(w.links).toHaveLength(1);
    w.clock.advance(1);
    expect(w.links).toHaveLength(2);
  });

  it('fails the requests in flight of a lost link with PeerLostError, at once', () => {
    const w = world();
    w.connection.connect().catch(() => undefined);
    const link = w.open();
    w.end(link, 'heartbeat-timeout');
    expect(w.failed).toHaveLength(1);
    expect(w.failed[0].link).toBe(link);
    expect(w.failed[0].error).toBeInstanceOf(PeerLostError);
    expect(w.failed[0].error).toMatchObject({ peerId: 'orders-1', status: 'lost', reason: 'heartbeat-timeout' });
  });

  it('after a reached peer died, a request fails at once with PeerUnavailableError saying who, its status, why and when the next attempt is', async () => {
    const w = world();
    w.connection.connect().catch(() => undefined);
    const link = w.open('orders-1');
    w.statuses.set('orders-1', 'lost');
    w.end(link, 'heartbeat-timeout');
    w.clock.advance(50);
    const error = await w.connection.whenReady().then(() => undefined, (e: Error) => e);
    expect(error).toBeInstanceOf(PeerUnavailableError);
    expect(error).toMatchObject({ peerId: 'orders-1', status: 'lost', reason: 'heartbeat-timeout', nextAttemptInMs: 150 });
  });

  it('waitForReadyMs: a request waits up to that long for a link, then fails with PeerUnavailableError', async () => {
    const w = world({ waitForReadyMs: 1000, reconnect: { initialDelayMs: 5000, maxDelayMs: 5000, jitter: 0 } });
    w.connection.connect().catch(() => undefined);
    w.refused();
    let outcome: unknown = 'pending';
    w.connection.whenReady().then(() => (outcome = 'ready'), (e: Error) => (outcome = e));
    w.clock.advance(999);
    await settle();
    expect(outcome).toBe('pending');
    w.clock.advance(1);
    await settle();
    expect(outcome).toBeInstanceOf(PeerUnavailableError);
    expect((outcome as PeerUnavailableError).nextAttemptInMs).toBe(4000);
  });

  it('waitForReadyMs: a request made while down goes out as soon as the link is back within the wait', async () => {
    const w = world({ waitForReadyMs: 1000, reconnect: { initialDelayMs: 300, jitter: 0 } });
    w.connection.connect().catch(() => undefined);
    w.refused();
    let outcome: unknown = 'pending';
    w.connection.whenReady().then(() => (outcome = 'ready'), (e: Error) => (outcome = e));
    w.clock.advance(300);
    w.open();
    await settle();
    expect(outcome).toBe('ready');
  });

  it('without waitForReadyMs: a request between attempts fails at once; one during an attempt waits for it', async () => {
    const w = world();
    w.connection.connect().catch(() => undefined);
    w.refused();
    await expect(w.connection.whenReady()).rejects.toBeInstanceOf(PeerUnavailableError);
    w.clock.advance(200); // the next attempt is under way
    const during = w.connection.whenReady();
    w.open();
    await expect(during).resolves.toBeUndefined();
  });

  it('a draining server: connects again at once, the drained link keeps its requests until it closes', () => {
    const w = world();
    w.connection.connect().catch(() => undefined);
    const old = w.open();
    w.connection.drained(old);
    expect(w.links).toHaveLength(2); // no backoff: the address may reach another instance now
    expect(w.connection.state).toBe('connecting');
    w.open();
    expect(w.connection.state).toBe('ready');
    w.end(old, 'goodbye'); // the server's bye after its requests finished
    expect(w.connection.state).toBe('ready');
    expect(w.failed).toEqual([{ link: old, error: expect.objectContaining({ status: 'left' }) }]);
  });

  it('ignores events of links that are no longer its own', () => {
    const w = world();
    w.connection.connect().catch(() => undefined);
    const first = w.last();
    w.refused();
    w.clock.advance(200);
    w.connection.opened(first); // a late welcome on a given-up attempt
    expect(w.connection.state).toBe('connecting');
  });

  it('close(): says goodbye, stops the loop and fails whoever waits; connect() starts it again', async () => {
    const w = world({ waitForReadyMs: 10_000 });
    w.connection.connect().catch(() => undefined);
    const link = w.open();
    w.end(link, 'connection-reset');
    const waiting = w.connection.whenReady();
    w.connection.close();
    await expect(waiting).rejects.toBeInstanceOf(PeerUnavailableError);
    w.clock.advance(60_000);
    expect(w.links).toHaveLength(1);
    expect(w.connection.state).toBe('closed');
    w.connection.connect().catch(() => undefined);
    expect(w.links).toHaveLength(2);
  });
});
