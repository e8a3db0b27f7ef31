import { killAllPeers, PeerProcess, type PeerLine } from '../support/peer-process.js';

/**
 * Two Nest applications in separate processes, each serving and each a client of the other.
 * Their @OnPeerLost / @OnPeerLeft handlers (the fixture prints what they receive) fire with the
 * contract's payload, in both directions.
 */
const heartbeat = { intervalMs: 250, missedBeats: 3 };

async function pair() {
  // Each app binds port 0 itself and keeps it; only then is it told the other's port.
  const config = (me: string, other: string) => ({
    nodeId: me, metadata: { app: me.toLowerCase() }, heartbeat, reservePort: true,
    server: { port: 0 }, clients: [{ name: other, port: 1, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }],
  });
  const a = new PeerProcess(config('A', 'B'));
  const b = new PeerProcess(config('B', 'A'));
  const [ra, rb] = await Promise.all([a.waitFor((l) => l.evt === 'reserved'), b.waitFor((l) => l.evt === 'reserved')]);
  a.command({ ports: { B: rb.port } });
  b.command({ ports: { A: ra.port } });
  await Promise.all([a.ready(), b.ready()]);
  await Promise.all([a.presence('joined', 'B'), b.presence('joined', 'A')]);
  return { a, b };
}

function expectContractPayload(line: PeerLine, id: string, status: string) {
  expect(line.peer).toMatchObject({ id, status, managed: true, metadata: { app: id.toLowerCase() } });
  expect(['inbound', 'outbound']).toContain(line.peer.direction);
  expect(line.peer.address).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(typeof line.peer.connectedAt).toBe('number');
  expect(typeof line.peer.lastSeenAt).toBe('number');
  expect(line.at).toBeGreaterThanOrEqual(line.peer.connectedAt);
}

describe('two Nest apps watching each other', () => {
  afterEach(() => killAllPeers());

  it.each([
    ['A', 'B'],
    ['B', 'A'],
  ])('%s sees @OnPeerLost when %s is SIGKILLed', async (watcherId, victimId) => {
    const apps = await pair();
    const watcher = watcherId === 'A' ? apps.a : apps.b;
    const victim = watcherId === 'A' ? apps.b : apps.a;
    const killedAt = Date.now();
    victim.signal('SIGKILL');
    const lost = await watcher.presence('lost', victimId);
    console.log(`[two-apps] ${watcherId} saw ${victimId} lost (${lost.reason}) ${lost.at - killedAt} ms after SIGKILL`);
    expect(['closed-without-goodbye', 'connection-reset']).toContain(lost.reason);
    expectContractPayload(lost, victimId, 'lost');
    expect(lost.at - killedAt).toBeLessThanOrEqual(200);
    // one event for the peer, though both its links (inbound and outbound) broke
    await new Promise((r) => setTimeout(r, 300));
    expect(watcher.lines.filter((l) => l.evt === 'presence' && l.type === 'lost')).toHaveLength(1);
  });

  it.each([
    ['A', 'B'],
    ['B', 'A'],
  ])('%s sees @OnPeerLeft when %s shuts down gracefully', async (watcherId, leaverId) => {
    const apps = await pair();
    const watcher = watcherId === 'A' ? apps.a : apps.b;
    const leaver = watcherId === 'A' ? apps.b : apps.a;
    const stoppedAt = Date.now();
    leaver.command({ cmd: 'close' });
    const left = await watcher.presence('left', leaverId);
    console.log(`[two-apps] ${watcherId} saw ${leaverId} left ${left.at - stoppedAt} ms after close`);
    expectContractPayload(left, leaverId, 'left');
    expect(left.reason).toBeUndefined();
    expect(left.at - stoppedAt).toBeLessThanOrEqual(100);
    await leaver.exited;
    expect(watcher.lines.filter((l) => l.evt === 'presence' && l.type === 'lost')).toHaveLength(0);
  });
});
