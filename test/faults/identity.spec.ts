/**
 * Identity (docs/SECURITY.md): with bound identities no peer can evict, mask or impersonate
 * another; incarnations only move forward, so two processes that share a nodeId never flap.
 * Real sockets and real peer processes; the attacker is a raw socket speaking the wire format.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { once } from 'node:events';
import { firstValueFrom } from 'rxjs';
import { HandshakeError, type HeartbeatClient } from '../../src/index.js';
import { certificateAuthority } from '../support/certs.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';
import { encode, WireSocket } from '../support/wire.js';
import { logs, report, sleep, startLocalClients, startLocalServer, until, type LocalClients, type LocalServer } from './support/harness.js';

const HB = { intervalMs: 200, missedBeats: 3 };
const inc = () => randomBytes(8).toString('hex');

let opened: Array<LocalServer | LocalClients> = [];
afterEach(async () => {
  await killAllPeers();
  for (const side of opened.splice(0)) await side.close();
});

async function raw(port: number): Promise<WireSocket> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return new WireSocket(socket);
}

/** A hello claiming `id`/`incarnation`, presenting `token`; resolves with the server's answer ('welcome' or 'reject'). */
async function claim(port: number, id: string, incarnation: string, token?: string): Promise<{ wire: WireSocket; answer: string; reason?: string }> {
  const wire = await raw(port);
  wire.write(encode({ $hb: 'hello', v: 1, id, inc: incarnation, meta: {}, ...(token === undefined ? {} : { token }) }));
  const { frame } = await wire.waitFor((f) => f.$hb === 'welcome' || f.$hb === 'reject', 5000, 'answer');
  return { wire, answer: frame.$hb, reason: frame.reason };
}

/** P: a server (identity options under test) that also calls upstream `orders-1`, a real process. */
async function upstreamAndP(server: Record<string, unknown>) {
  const orders = new PeerProcess({ nodeId: 'orders-1', heartbeat: HB, server: { port: 0 } });
  const { port: ordersPort } = await orders.ready();
  const p = await startLocalServer({
    nodeId: 'P', heartbeat: HB, server,
    clients: [{ name: 'ORDERS', port: ordersPort, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }],
  });
  opened.push(p);
  await p.alive('orders-1');
  return { orders, ordersPort, p, client: p.app.get<HeartbeatClient>('ORDERS') };
}

/** Requests to orders-1 every 50 ms while `attack` runs; returns how many failed, by error name. */
async function requestsDuring(client: HeartbeatClient, attack: Promise<unknown>): Promise<{ ok: number; failed: Record<string, number> }> {
  let done = false;
  void attack.finally(() => (done = true));
  const failed: Record<string, number> = {};
  let ok = 0;
  while (!done) {
    try {
      await firstValueFrom(client.send('echo', { n: ok }));
      ok++;
    } catch (e) {
      const name = (e as Error).name;
      failed[name] = (failed[name] ?? 0) + 1;
    }
    await sleep(50);
  }
  return { ok, failed };
}

/** Hellos claiming orders-1, a new incarnation each, every 300 ms for `ms`. */
async function evictionAttempts(port: number, ms: number, token: string): Promise<string[]> {
  const answers: string[] = [];
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const { wire, answer } = await claim(port, 'orders-1', inc(), token);
    answers.push(answer);
    wire.socket.destroy();
    await sleep(300);
  }
  return answers;
}

describe('eviction: a hello that claims our upstream with a new incarnation', () => {
  test('with bound identities (authTokens) it is refused and changes nothing: every request to the upstream succeeds, no replaced', async () => {
    const { p, client } = await upstreamAndP({ authTokens: { 'orders-1': 'orders-secret', mallory: 'mallory-secret' } });
    const attack = evictionAttempts(p.port, 3000, 'mallory-secret');
    const result = await requestsDuring(client, attack);
    const answers = await attack;
    report(`eviction, bound identities: ${answers.length} attempts answered ${[...new Set(answers)].join('/')}; requests ${result.ok} ok, failed ${JSON.stringify(result.failed)}`);
    expect(new Set(answers)).toEqual(new Set(['reject']));
    expect(result.failed).toEqual({});
    expect(result.ok).toBeGreaterThan(20);
    expect(p.events.filter((e) => e.peer.id === 'orders-1' && e.type !== 'joined')).toEqual([]);
  }, 30_000);

  test('with a shared token (the threat model: every holder may claim any nodeId) it evicts: why bound identities exist', async () => {
    const { p, client } = await upstreamAndP({ authToken: 'shared' });
    const attack = evictionAttempts(p.port, 2000, 'shared');
    const result = await requestsDuring(client, attack);
    await attack;
    const replaced = p.events.filter((e) => e.type === 'lost' && e.reason === 'replaced' && e.peer.id === 'orders-1');
    report(`eviction, shared token: ${replaced.length} replaced, requests ${result.ok} ok, failed ${JSON.stringify(result.failed)}`);
    expect(replaced.length).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

describe('masking: a hello that claims our upstream with its real incarnation', () => {
  async function realIncarnation(ordersPort: number): Promise<string> {
    const { wire, answer } = await claim(ordersPort, 'curious', inc());
    expect(answer).toBe('welcome');
    const { frame } = await wire.waitFor((f) => f.$hb === 'welcome');
    wire.socket.destroy();
    return frame.inc;
  }

  test('with bound identities it is refused: after the real upstream is SIGKILLed, P reports it gone', async () => {
    const { orders, ordersPort, p } = await upstreamAndP({ authTokens: { 'orders-1': 'orders-secret', mallory: 'mallory-secret' } });
    const { wire, answer } = await claim(p.port, 'orders-1', await realIncarnation(ordersPort), 'mallory-secret');
    wire.answerPings();
    expect(answer).toBe('reject');
    const t0 = Date.now();
    orders.signal('SIGKILL');
    await until(() => !p.presence.isAlive('orders-1'), 2000, 'orders-1 not alive');
    report(`masking, bound identities: orders-1 not alive ${Date.now() - t0} ms after SIGKILL`);
  }, 30_000);

  test('with a shared token it masks the death (the threat model)', async () => {
    const { orders, ordersPort, p } = await upstreamAndP({ authToken: 'shared' });
    const { wire, answer } = await claim(p.port, 'orders-1', await realIncarnation(ordersPort), 'shared');
    wire.answerPings();
    expect(answer).toBe('welcome');
    orders.signal('SIGKILL');
    await sleep(1500); // well past a crash's detection (tens of ms)
    expect(p.presence.isAlive('orders-1')).toBe(true);
    wire.socket.destroy();
  }, 30_000);
});

describe('incarnations only move forward: two processes that share a nodeId', () => {
  test('two client processes of one nodeId: at most one replaced, the older refused with one error line naming both, no flap over 10 s', async () => {
    const server = await startLocalServer({ nodeId: 'server', heartbeat: HB });
    opened.push(server);
    const config = { nodeId: 'billing-1', heartbeat: HB, clients: [{ name: 'SERVER', port: server.port, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } }] };
    const older = new PeerProcess(config);
    await older.ready();
    await server.alive('billing-1');
    const newer = new PeerProcess(config);
    await newer.ready();
    const t0 = Date.now();
    await sleep(10_000);
    const events = server.events.filter((e) => e.peer.id === 'billing-1' && e.seenAt >= t0 - 5000);
    const errors = older.logs.filter((l) => /billing-1/.test(l) && /ERROR/.test(l));
    report(`shared nodeId, two clients: server events ${JSON.stringify(events.map((e) => [e.type, e.reason]))}; older logged ${errors.length} error line(s): ${errors[0]?.slice(0, 300)}`);
    expect(server.count('lost', 'billing-1')).toBeLessThanOrEqual(1);
    expect(server.count('joined', 'billing-1')).toBeLessThanOrEqual(2);
    expect(server.presence.get('billing-1')?.status).toBe('alive');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/held by a newer process/);
    expect(errors[0].match(/127\.0\.0\.1:\d+/g)?.length).toBeGreaterThanOrEqual(2); // both addresses
    expect(errors[0]).toMatch(/give each its own/);
    expect(newer.logs.filter((l) => /ERROR/.test(l))).toEqual([]);
  }, 40_000);

  test('two server processes of one nodeId behind two clients: at most one replaced, then stable', async () => {
    const a = new PeerProcess({ nodeId: 'orders-1', heartbeat: HB, server: { port: 0 } });
    const { port: portA } = await a.ready();
    const b = new PeerProcess({ nodeId: 'orders-1', heartbeat: HB, server: { port: 0 } });
    const { port: portB } = await b.ready();
    const clients = await startLocalClients({
      nodeId: 'gateway', heartbeat: HB,
      clients: [
        { name: 'A', port: portA, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } },
        { name: 'B', port: portB, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } },
      ],
    });
    opened.push(clients);
    await sleep(5000);
    report(`shared nodeId, two servers: client events ${JSON.stringify(clients.events.map((e) => [e.type, e.reason]))}`);
    expect(clients.count('lost', 'orders-1')).toBeLessThanOrEqual(1);
    expect(clients.presence.get('orders-1')?.status).toBe('alive');
    const refusals = logs.lines.filter((l) => l.level === 'error' && /held by a newer process/.test(l.message));
    expect(refusals.length).toBeLessThanOrEqual(1);
  }, 30_000);

  test('a restart (new incarnation, same nodeId) still replaces at once with bound identities', async () => {
    const server = await startLocalServer({ nodeId: 'server', heartbeat: HB, server: { authTokens: { 'billing-1': 'b' } } });
    opened.push(server);
    const first = await claim(server.port, 'billing-1', inc(), 'b');
    first.wire.answerPings();
    expect(first.answer).toBe('welcome');
    await server.alive('billing-1');
    const t0 = Date.now();
    const second = await claim(server.port, 'billing-1', inc(), 'b');
    expect(second.answer).toBe('welcome');
    const lost = await server.next('lost', 'billing-1', 0, 2000);
    expect(lost.reason).toBe('replaced');
    expect(Date.now() - t0).toBeLessThan(500);
    second.wire.socket.destroy();
  }, 30_000);
});

describe('bound identities and authentication', () => {
  test('authTokens: a node may claim only its own nodeId; a known token for another nodeId is refused (auth-failed), nobody joins', async () => {
    const server = await startLocalServer({ nodeId: 'server', heartbeat: HB, server: { authTokens: { alice: 'a', bob: 'b' } } });
    opened.push(server);
    expect((await claim(server.port, 'alice', inc(), 'a')).answer).toBe('welcome');
    const impostor = await claim(server.port, 'bob', inc(), 'a');
    expect(impostor).toMatchObject({ answer: 'reject', reason: 'auth-failed' });
    expect((await claim(server.port, 'carol', inc(), 'a')).answer).toBe('reject');
    expect((await claim(server.port, 'bob', inc())).answer).toBe('reject');
    await sleep(100);
    expect(server.presence.peers().map((p) => p.id)).toEqual(['alice']);
  });

  test('authenticate(): an async check admits or refuses; one that throws a Symbol refuses, is logged, and nothing crashes', async () => {
    const server = await startLocalServer({
      nodeId: 'server', heartbeat: HB,
      server: {
        authenticate: async (c) => {
          await sleep(30);
          if (c.nodeId === 'thrower') throw Symbol('nope');
          return c.nodeId === 'alice' && c.token === 'a' && c.remoteAddress.startsWith('127.0.0.1:');
        },
      },
    });
    opened.push(server);
    expect((await claim(server.port, 'alice', inc(), 'a')).answer).toBe('welcome');
    expect((await claim(server.port, 'alice', inc(), 'wrong')).answer).toBe('reject');
    const t0 = Date.now();
    expect((await claim(server.port, 'thrower', inc())).answer).toBe('reject');
    await sleep(50);
    expect(logs.since(t0).map((l) => l.message).join('\n')).toMatch(/server\.authenticate threw: Symbol\(nope\)/);
  });

  test('tcp: belongs to stock clients: a hello claiming it is refused', async () => {
    const server = await startLocalServer({ nodeId: 'server', heartbeat: HB });
    opened.push(server);
    expect(await claim(server.port, 'tcp:127.0.0.1:1', inc())).toMatchObject({ answer: 'reject', reason: 'protocol-error' });
  });

  test('identityFromCertificate (mTLS, certificates made by openssl): the right CN or SAN URI joins, a wrong one is refused', async () => {
    const ca = certificateAuthority();
    const serverCert = ca.issue('localhost');
    const server = await startLocalServer({
      nodeId: 'server', heartbeat: HB,
      server: { tlsOptions: { ...serverCert, ca: ca.cert, requestCert: true }, identityFromCertificate: true },
    });
    opened.push(server);
    const client = (nodeId: string, cert: { key: string; cert: string }) => startLocalClients({
      nodeId, heartbeat: HB,
      clients: [{ name: 'S', port: server.port, tlsOptions: { ca: ca.cert, ...cert }, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } }],
    });
    const alice = await client('alice', ca.issue('alice'));
    opened.push(alice);
    await expect(alice.client('S').connect()).resolves.toBeUndefined();
    const spiffe = await client('spiffe://example.org/orders', ca.issue('orders-workload', ['URI:spiffe://example.org/orders']));
    opened.push(spiffe);
    await expect(spiffe.client('S').connect()).resolves.toBeUndefined();
    const mallory = await client('alice', ca.issue('bob'));
    opened.push(mallory);
    const error = await mallory.client('S').connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).closeCause).toBe('auth-failed');
    await sleep(100);
    expect(server.presence.peers().map((p) => p.id).sort()).toEqual(['alice', 'spiffe://example.org/orders']);
    expect(server.count('joined')).toBe(2);
  }, 30_000);

  test('expectNodeId: a server that welcomes us under another nodeId is refused (identity-mismatch); nobody joins our table', async () => {
    const server = await startLocalServer({ nodeId: 'orders-2', heartbeat: HB });
    opened.push(server);
    const clients = await startLocalClients({
      nodeId: 'billing', heartbeat: HB,
      clients: [{ name: 'S', port: server.port, expectNodeId: 'orders-1', reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } }],
    });
    opened.push(clients);
    const error = await clients.client('S').connect().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(HandshakeError);
    expect((error as HandshakeError).closeCause).toBe('identity-mismatch');
    expect((error as Error).message).toMatch(/"orders-2", not the expected "orders-1"/);
    expect(clients.events).toEqual([]);
    // The server counted us in for a moment: we left as a peer that says goodbye does.
    await server.next('left', 'billing', 0, 2000);
  });

  test('a server beyond loopback with no authentication (authToken from an unset variable) warns once at boot; on loopback it does not', async () => {
    const t0 = Date.now();
    const open = await startLocalServer({ nodeId: 'open', heartbeat: HB, server: { host: '0.0.0.0', authToken: process.env.HB_UNSET_TOKEN_FOR_TEST } });
    opened.push(open);
    const local = await startLocalServer({ nodeId: 'local', heartbeat: HB });
    opened.push(local);
    const warnings = logs.since(t0).filter((l) => l.level === 'warn' && /without authentication/.test(l.message));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].message).toMatch(/0\.0\.0\.0/);
    expect(warnings[0].message).toMatch(/SECURITY\.md/);
  });
});
