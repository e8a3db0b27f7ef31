/**
 * Fault lab over TLS: loss detection when a TLS peer hangs (SIGSTOP) or dies (SIGKILL), in both
 * directions, within the same bounds as plain TCP; and a client that does not trust the
 * server's certificate is refused with a clear error, and nobody joins.
 */
import { jest } from '@jest/globals';
import { HandshakeError } from '../../src/index.js';
import { selfSigned, type SelfSigned } from '../support/certs.js';
import { killAllPeers } from '../support/peer-process.js';
import { logs, report, sleep, startLocalClients, startLocalServer, verdictWindow, type LocalSide } from './support/harness.js';
import { DIRECTIONS, startRig, type Rig } from './support/rig.js';

const FAST = { intervalMs: 200, missedBeats: 3 };
let tls: SelfSigned;
let rig: Rig | undefined;
let extra: LocalSide[] = [];

beforeAll(() => {
  tls = selfSigned();
});
afterEach(async () => {
  await killAllPeers();
  await rig?.local.close();
  for (const side of extra) await side.close();
  rig = undefined;
  extra = [];
  jest.restoreAllMocks();
});

describe.each(DIRECTIONS)('%s, over TLS', (direction) => {
  const who = direction === 'server detects client' ? 'client' : 'server';

  test(`SIGSTOP of the TLS ${who}: lost heartbeat-timeout within ${(FAST.missedBeats + 1) * FAST.intervalMs} ms`, async () => {
    rig = await startRig(direction, { heartbeat: FAST, tls });
    const { local, peer, peerId } = rig;
    await sleep(3 * FAST.intervalMs);
    const t0 = local.now();
    local.markFault(t0 - FAST.intervalMs);
    peer.signal('SIGSTOP');
    const lost = await local.next('lost', peerId, t0, 10_000);
    const { ms, bound, earliest } = verdictWindow(lost, t0, FAST);
    report(`TLS SIGSTOP (${FAST.intervalMs} ms × ${FAST.missedBeats}): ${direction} detected in ${Math.round(ms)} ms (window ${earliest}–${bound})`);
    expect(lost.reason).toBe('heartbeat-timeout');
    expect(ms).toBeLessThanOrEqual(bound);
    expect(ms).toBeGreaterThan(earliest);
  }, 30_000);

  test(`SIGKILL of the TLS ${who}: lost within 200 ms`, async () => {
    rig = await startRig(direction, { heartbeat: FAST, tls });
    const { local, peer, peerId } = rig;
    const t0 = local.now();
    peer.signal('SIGKILL');
    const lost = await local.next('lost', peerId, t0, 5_000);
    const ms = lost.seenAt - t0;
    report(`TLS SIGKILL: ${direction} lost (${lost.reason}) in ${Math.round(ms)} ms (bound 200)`);
    // A killed process's kernel closes its sockets: FIN, or RST when unread data was left.
    expect(['closed-without-goodbye', 'connection-reset']).toContain(lost.reason);
    expect(ms).toBeLessThanOrEqual(200);
  }, 30_000);
});

test('a client that does not trust the server certificate is refused, the certificate named in its log; nobody joins', async () => {
  const other = selfSigned('someone-else');
  const server = await startLocalServer({ nodeId: 'tls-server', heartbeat: FAST, server: { tlsOptions: { key: tls.key, cert: tls.cert } } });
  extra.push(server);
  const t0 = Date.now();
  const clients = await startLocalClients({
    nodeId: 'tls-client', heartbeat: FAST,
    clients: [{ name: 'S', port: server.port, tlsOptions: { ca: other.cert }, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } }],
  });
  extra.push(clients);
  const error = await clients.client('S').connect().then(() => undefined, (e: unknown) => e as Error);
  report(`TLS, wrong CA: connect() rejected with ${error?.name}: ${error?.message}`);
  expect(error).toBeInstanceOf(HandshakeError);
  expect(error!.message).toMatch(/certificate|CERT/i); // the rejection names the certificate problem
  const clientLines = logs.since(t0).filter((l) => ['warn', 'error'].includes(l.level) && l.context !== 'HeartbeatServer');
  expect(clientLines.map((l) => l.message).join('\n')).toMatch(/CERT|certificate/i);
  await sleep(300);
  expect(server.count('joined')).toBe(0);
  expect(clients.count('joined')).toBe(0);
  expect(server.server.connections).toBe(0);
  // The server closed its end too, saying why.
  expect(logs.since(t0).filter((l) => l.context === 'HeartbeatServer').map((l) => l.message).join('\n')).toMatch(/TLS handshake failed/);
}, 30_000);
