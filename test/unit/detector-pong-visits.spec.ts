import { joinedPeer } from '../support/virtual-peer.js';

/**
 * A pong to our ping moves the link's next tick visit on (bench B2: the visit at the previous
 * beat's suspect deadline found nothing to do). Moving a visit later must never make a verdict
 * or the slow-reader check late, whatever the peer sends.
 */
describe('detector: visits moved on by pongs', () => {
  const I = 1000;
  const TICK = 100;

  function joined() {
    const world = joinedPeer();
    const { peer } = world;
    const answer = (after: number) => {
      const last = peer.transport.sent.filter((s) => s.frame.$hb === 'ping').at(-1)?.frame as { seq: number; t: number } | undefined;
      if (last) world.clock.advance(after);
      if (last) peer.receive({ $hb: 'pong', seq: last.seq, t: last.t });
    };
    return { ...world, answer };
  }

  it('a peer that answers every ping, then falls silent: suspect 1.5 and lost 3.5 intervals after its last pong, within a tick', () => {
    const { clock, peer, events, answer } = joined();
    let lastHeard = 0;
    for (let k = 0; k < 6; k++) {
      const pings = peer.transport.kinds().filter((x) => x === 'ping').length;
      while (peer.transport.kinds().filter((x) => x === 'ping').length === pings) clock.advance(10);
      answer(20);
      lastHeard = clock.now;
    }
    expect(peer.transport.kinds().filter((x) => x === 'ping').length).toBeGreaterThanOrEqual(6);
    expect(events.map((e) => e.type)).toEqual(['joined']);
    clock.runUntil(lastHeard + 1.5 * I + TICK);
    expect(events.map((e) => e.type)).toEqual(['joined', 'suspect']);
    expect(events[1].at).toBeGreaterThan(lastHeard + 1.5 * I);
    expect(events[1].at).toBeLessThanOrEqual(lastHeard + 1.5 * I + TICK);
    clock.runUntil(lastHeard + 3.5 * I);
    expect(peer.transport.destroyed).toBe(false);
    clock.runUntil(lastHeard + 3.5 * I + TICK);
    expect(peer.transport.destroyed).toBe(true);
  });

  it('a peer that does not read is cut within an interval, however many pongs and pings it sends meanwhile', () => {
    const { clock, peer, events } = joined();
    clock.runUntil(2 * I);
    const from = clock.now;
    peer.transport.writableLength = 256 * 1024 * 1024; // its replies pile up (above maxQueuedBytes): it stopped reading
    // Every 80 ms a ping (we answer, so our own ping never falls due) and pongs echoing our last ping.
    let seq = 100;
    while (!peer.transport.destroyed && clock.now < from + 5 * I) {
      clock.advance(80);
      peer.receive({ $hb: 'ping', seq: seq++, t: clock.now });
      const last = peer.transport.sent.filter((s) => s.frame.$hb === 'ping').at(-1)?.frame as { seq: number; t: number } | undefined;
      if (last) for (let k = 0; k < 3; k++) peer.receive({ $hb: 'pong', seq: last.seq, t: last.t });
    }
    expect(peer.transport.destroyed).toBe(true);
    expect(clock.now - from).toBeLessThanOrEqual(I + 2 * TICK);
    peer.close();
    expect(events.at(-1)).toMatchObject({ type: 'lost', reason: 'protocol-error' });
  });
});
