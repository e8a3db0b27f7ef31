import { sleep, startServerApp } from '../support/apps.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';

/**
 * When this process's own event loop is blocked, the pings that queue up unread must not
 * convict a healthy peer: the detector stretches its deadlines by its measured lag.
 */
const I = 200;

describe('local event-loop stall', () => {
  afterEach(() => killAllPeers());

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
});
