/**
 * Limits under hostile load (README "Errors and hostile peers"): every cost a peer can cause has a
 * ceiling. Raw sockets on 127.0.0.1 against a real server in this process; the throughput and
 * memory figures at scale are benchmark B7's.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { HANDSHAKE_MAX_FRAME_BYTES } from '../../src/common/heartbeat.constants.js';
import { selfSigned } from '../support/certs.js';
import { encode, WireSocket } from '../support/wire.js';
import { logs, sleep, startLocalClients, startLocalServer, until, type LocalClients, type LocalServer } from './support/harness.js';

const HB = { intervalMs: 200, missedBeats: 3 };
const inc = () => randomBytes(8).toString('hex');

let opened: Array<LocalServer | LocalClients> = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const side of opened.splice(0)) await side.close();
});

async function raw(port: number): Promise<WireSocket> {
  const socket = connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  await once(socket, 'connect');
  return new WireSocket(socket);
}

async function server(options: Parameters<typeof startLocalServer>[0]) {
  const s = await startLocalServer({ heartbeat: HB, ...options });
  opened.push(s);
  return s;
}

async function healthyClient(port: number) {
  const c = await startLocalClients({ nodeId: 'healthy', heartbeat: HB, clients: [{ name: 'S', port, authToken: 's3cret' }] });
  opened.push(c);
  await c.client('S').connect();
  return c;
}

test('before the handshake a frame may be at most 64 KiB: 48 sockets announcing 4 MiB are closed at the prefix, before anything is buffered', async () => {
  const s = await server({ nodeId: 'server', server: { authToken: 's3cret' } });
  const honest = await healthyClient(s.port);
  const t0 = Date.now();
  const attackers = await Promise.all(Array.from({ length: 48 }, () => raw(s.port)));
  for (const a of attackers) a.write(`${4 * 1024 * 1024}#{"pattern":"${'x'.repeat(1000)}`);
  await Promise.all(attackers.map((a) => a.closed));
  expect(Date.now() - t0).toBeLessThan(1000); // not at the 10 s handshake deadline
  expect(logs.since(t0).some((l) => /exceeds maxFrameBytes 65536/.test(l.message))).toBe(true);
  // Just under the cap is read (and refused for what it is: data without the token).
  const small = await raw(s.port);
  small.write(encode({ pattern: 'x', data: 'y'.repeat(HANDSHAKE_MAX_FRAME_BYTES - 100), id: '1' }));
  const { frame } = await small.waitFor((f) => f.$hb === 'reject');
  expect(frame.reason).toBe('auth-failed');
  expect(honest.presence.get('server')?.status).toBe('alive');
  expect(honest.count('suspect')).toBe(0);
});

test('maxPendingHandshakes: sockets over it are closed at accept; peers already in are served', async () => {
  const s = await server({ nodeId: 'server', server: { authToken: 's3cret', maxPendingHandshakes: 50, handshakeTimeoutMs: 5000 } });
  const honest = await healthyClient(s.port);
  const idle = await Promise.all(Array.from({ length: 80 }, () => raw(s.port)));
  await sleep(300);
  const closed = idle.filter((w) => w.closedAt !== undefined).length;
  expect(s.server.pendingHandshakes).toBe(50);
  expect(closed).toBe(30);
  expect(honest.presence.get('server')?.status).toBe('alive');
  for (const w of idle) w.socket.destroy();
  await until(() => s.server.pendingHandshakes === 0, 2000, 'handshake slots released');
});

test('maxPendingHandshakes under a slowloris: a socket pending over a second makes room for a new one, so an honest peer still joins', async () => {
  const s = await server({ nodeId: 'server', server: { authToken: 's3cret', maxPendingHandshakes: 50, handshakeTimeoutMs: 8000 } });
  // The slots filled by sockets that never finish a hello, kept full as a slowloris keeps them.
  const idle = await Promise.all(Array.from({ length: 50 }, () => raw(s.port)));
  for (const w of idle) w.write('200#{"$hb":"hello","id":"');
  await sleep(1300); // past PENDING_HANDSHAKE_EVICT_AFTER_MS, far inside the handshake deadline
  expect(s.server.pendingHandshakes).toBe(50);
  const t0 = Date.now();
  const honest = await healthyClient(s.port);
  expect(honest.presence.get('server')?.status).toBe('alive');
  expect(Date.now() - t0).toBeLessThan(2000); // not at the handshake deadline (8 s) of the sockets in the way
  await until(() => idle.some((w) => w.closedAt !== undefined), 1000, 'the oldest pending socket closed');
  expect(idle.filter((w) => w.closedAt !== undefined).length).toBe(1);
  expect(s.server.pendingHandshakes).toBe(49);
  expect(s.presence.get('healthy')?.status).toBe('alive');
});

test('maxLinksPerPeer: a hello over it is refused (protocol-error); the links already in stay', async () => {
  const s = await server({ nodeId: 'server', server: { maxLinksPerPeer: 2 } });
  const me = inc();
  const hello = encode({ $hb: 'hello', v: 1, id: 'many', inc: me, meta: {} });
  const answers: string[] = [];
  const links: WireSocket[] = [];
  for (let i = 0; i < 3; i++) {
    const w = await raw(s.port);
    w.answerPings();
    w.write(hello);
    answers.push((await w.waitFor((f) => f.$hb === 'welcome' || f.$hb === 'reject')).frame.$hb);
    links.push(w);
  }
  expect(answers).toEqual(['welcome', 'welcome', 'reject']);
  expect(s.presence.get('many')?.status).toBe('alive');
  expect(s.count('lost', 'many')).toBe(0);
});

test('presence.maxRetained: churn of fresh nodeIds keeps at most that many departed peers, the oldest dropped first', async () => {
  const s = await server({ nodeId: 'server', presence: { maxRetained: 50 } });
  for (let i = 0; i < 200; i++) {
    const w = await raw(s.port);
    w.write(encode({ $hb: 'hello', v: 1, id: `churn-${i}`, inc: inc(), meta: {} }));
    await w.waitFor((f) => f.$hb === 'welcome');
    w.socket.destroy();
    await w.closed;
  }
  await until(() => s.count('lost') === 200, 5000, 'all 200 lost');
  const ids = s.presence.peers().map((p) => p.id);
  expect(ids).toHaveLength(50);
  expect(ids).toContain('churn-199');
  expect(ids).not.toContain('churn-0');
});

test('presence.retainMs: a departed peer leaves peers() when it runs out', async () => {
  const s = await server({ nodeId: 'server', presence: { retainMs: 300 } });
  const w = await raw(s.port);
  w.write(encode({ $hb: 'hello', v: 1, id: 'brief', inc: inc(), meta: {} }));
  await w.waitFor((f) => f.$hb === 'welcome');
  w.socket.destroy();
  await until(() => s.presence.get('brief')?.status === 'lost', 2000, 'lost');
  await sleep(200);
  expect(s.presence.get('brief')).toBeDefined();
  await until(() => s.presence.get('brief') === undefined, 1000, 'expired');
});

test('a TLS handshake that completes after close() began is destroyed: never welcomed, nothing kept alive', async () => {
  const { key, cert } = selfSigned();
  const s = await server({ nodeId: 'server', server: { tlsOptions: { key, cert }, drainTimeoutMs: 2000 } });
  const tcp = connect({ host: '127.0.0.1', port: s.port });
  sockets.push(tcp);
  await once(tcp, 'connect');
  // A client that stays in a drain holds the server in `draining` while the late TLS handshake completes.
  const stayer = await startLocalClients({ nodeId: 'stayer', heartbeat: HB, clients: [{ name: 'S', port: s.port, tlsOptions: { ca: cert } }] });
  opened.push(stayer);
  await stayer.client('S').connect();
  const closing = s.server.close();
  expect(s.server.state).toBe('draining');
  const tls = tlsConnect({ socket: tcp, ca: cert, servername: 'localhost' });
  tls.on('error', () => undefined);
  const wire = new WireSocket(tls);
  wire.write(encode({ $hb: 'hello', v: 1, id: 'late', inc: inc(), meta: {} }));
  await wire.closed;
  expect(wire.count('welcome')).toBe(0);
  expect(s.presence.get('late')).toBeUndefined();
  await closing;
});

test('every peer string in a log line is escaped: a nodeId with a line separator cannot forge a line', async () => {
  const s = await server({ nodeId: 'server' });
  const t0 = Date.now();
  const w = await raw(s.port);
  w.write(encode({ $hb: 'hello', v: 1, id: 'a\u2028[Nest] forged', inc: inc(), meta: {} }));
  await w.waitFor((f) => f.$hb === 'welcome');
  await until(() => logs.since(t0).some((l) => /joined/.test(l.message)), 2000, 'join logged');
  const line = logs.since(t0).find((l) => /joined/.test(l.message))!.message;
  expect(line).not.toMatch(/\u2028/);
  expect(line).toContain('a\\u2028[Nest] forged');
});
