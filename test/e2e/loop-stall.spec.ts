import { killAll as killAllLineProcesses, LineProcess } from '../cluster/support/line-process.js';
import { sleep, startServerApp, waitForEvent } from '../support/apps.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';

/**
 * When this process's own event loop is blocked, the pings that queue up unread must not
 * convict a healthy peer: the detector stretches its deadlines by its measured lag.
 */
const I = 200;

describe('local event-loop stall', () => {
  afterEach(async () => {
    await killAllPeers();
    await killAllLineProcesses();
  });

  it('blocking the loop for 3 × interval, three times, while a healthy peer beats: no lost, no suspect', async () => {
    const server = await startServerApp({ heartbeat: { intervalMs: I, missedBeats: 3 } });
    // The peer is more tolerant, so that our stall, which also stops our pings, does not make it hang up.
    const peer = new PeerProcess({ nodeId: 'peer', heartbeat: { intervalMs: I, missedBeats: 10 }, clients: [{ name: 'S', port: server.port }] });
    await peer.ready();
    try {
      for (let i = 0; i < 3; i++) {
        await sleep(4 * I);
        const until = Date.now() + 3 * I;
        while (Date.now() < until); // synchronous work: nothing is read meanwhile
      }
      await sleep(4 * I);
      const types = server.events.map((e) => e.type);
      expect(types).toEqual(['joined']);
      expect(server.presence.get('peer')?.status).toBe('alive');
    } finally {
      await server.close();
    }
  });

  it('the stretch is only the stall: a peer that hangs during our stall is still lost afterwards', async () => {
    const server = await startServerApp({ heartbeat: { intervalMs: I, missedBeats: 3 } });
    const peer = new PeerProcess({ nodeId: 'peer', heartbeat: { intervalMs: I, missedBeats: 10 }, clients: [{ name: 'S', port: server.port }] });
    await peer.ready();
    try {
      await sleep(2 * I);
      peer.signal('SIGSTOP');
      const stoppedAt = Date.now();
      const until = Date.now() + 3 * I;
      while (Date.now() < until);
      await sleep(10 * I);
      const lost = server.events.find((e) => e.type === 'lost');
      expect(lost?.reason).toBe('heartbeat-timeout');
      // detected within the bound stretched by our own 3-interval stall
      expect(lost!.at - stoppedAt).toBeLessThanOrEqual(3 * I + (3 * I + I));
    } finally {
      peer.signal('SIGCONT');
      await server.close();
    }
  });

  it('a stall longer than the ticker\'s whole wheel (64 ticks) leaves every link judged: 30 peers that hang afterwards are all lost', async () => {
    // intervalMs 100: a 10 ms tick, a 640 ms wheel. After a 1.5 s stall one late tick covers the
    // whole wheel; links it re-placed were once dropped from it and never judged again.
    const interval = 100;
    const server = await startServerApp({ heartbeat: { intervalMs: interval, missedBeats: 3 } });
    const swarm = new LineProcess('swarm.ts', [String(interval)]);
    try {
      await swarm.waitFor((l) => l.evt === 'ready');
      const ids = Array.from({ length: 30 }, (_, i) => `stalled-${i}`);
      for (const id of ids) swarm.command({ cmd: 'connect', id, port: server.port });
      for (const id of ids) await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === id);
      for (let i = 0; i < 2; i++) {
        await sleep(3 * interval);
        const until = Date.now() + 1_500;
        while (Date.now() < until); // synchronous work: no tick, nothing read
      }
      await sleep(3 * interval); // the stalls are behind us; the detector's own clock runs again
      swarm.signal('SIGSTOP'); // every peer hangs at once
      const stoppedAt = Date.now();
      await Promise.all(ids.map((id) => waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === id, 5_000)));
      const lost = server.events.filter((e) => e.type === 'lost');
      expect(new Set(lost.map((e) => e.reason))).toEqual(new Set(['heartbeat-timeout']));
      // Within the rule's bound, (missedBeats + 1) × interval, and a generous margin for this machine.
      for (const e of lost) expect(e.at - stoppedAt).toBeLessThanOrEqual(4 * interval + 1_000);
    } finally {
      swarm.signal('SIGCONT');
      await server.close();
    }
  }, 30_000);
});
