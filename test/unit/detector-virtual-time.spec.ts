import { Authenticator } from '../../src/link/authenticator.js';
import { joinedPeer, virtualWorld } from '../support/virtual-peer.js';

/** Every transition of the peer state machine, driven on virtual time (interval 1000, missedBeats 3). */
describe('failure detector on virtual time', () => {
  const I = 1000;
  const TICK = 100;

  const joined = joinedPeer;

  it('joins on hello: welcome sent, joined event with the handshake identity', () => {
    const { peer, events, presence } = joined();
    expect(peer.transport.kinds()).toEqual(['welcome']);
    expect(events.map((e) => e.type)).toEqual(['joined']);
    expect(events[0].peer).toMatchObject({ id: 'peer-1', status: 'alive', direction: 'inbound', managed: true, metadata: { service: 'orders' } });
    expect(presence.isAlive('peer-1')).toBe(true);
  });

  it('alive → suspect after 1.5 intervals of silence, → lost (heartbeat-timeout) after 3.5', () => {
    const { clock, peer, events } = joined();
    clock.runUntil(1500);
    expect(events.map((e) => e.type)).toEqual(['joined']);
    clock.runUntil(1500 + TICK);
    expect(events.map((e) => e.type)).toEqual(['joined', 'suspect']);
    expect(events[1].at).toBeGreaterThan(1500);
    expect(events[1].at).toBeLessThanOrEqual(1500 + TICK);
    clock.runUntil(3500);
    expect(peer.transport.destroyed).toBe(false);
    clock.runUntil(3500 + TICK);
    expect(peer.transport.destroyed).toBe(true); // the detector cut the link…
    peer.close(); // …and the socket closed
    expect(events.map((e) => e.type)).toEqual(['joined', 'suspect', 'lost']);
    expect(events[2].reason).toBe('heartbeat-timeout');
    expect(events[2].peer.status).toBe('lost');
  });

  it('suspect → recovered when any frame arrives before missedBeats run out', () => {
    const { clock, peer, events, presence } = joined();
    clock.runUntil(2000);
    expect(presence.get('peer-1')?.status).toBe('suspect');
    peer.ping(1);
    expect(events.map((e) => e.type)).toEqual(['joined', 'suspect', 'recovered']);
    clock.runUntil(3400); // the beat at 2 s reset the silence: alive where the first silence would be lost
    expect(presence.get('peer-1')?.status).toBe('alive');
  });

  it('a peer that keeps beating every interval is never suspect', () => {
    const { clock, peer, events } = joined();
    for (let t = I; t <= 30 * I; t += I) {
      clock.runUntil(t);
      peer.ping(t / I);
    }
    expect(events.map((e) => e.type)).toEqual(['joined']);
  });

  it('answers pings at once and pings after an interval without sending', () => {
    const { clock, peer } = joined();
    clock.runUntil(400);
    peer.ping(7);
    const pong = peer.transport.sent.at(-1)!;
    expect(pong).toEqual({ at: 400, frame: { $hb: 'pong', seq: 7, t: 400 } });
    clock.runUntil(1400 - TICK / 2 - 1);
    expect(peer.transport.kinds()).toEqual(['welcome', 'pong']);
    clock.runUntil(1400);
    expect(peer.transport.kinds()).toEqual(['welcome', 'pong', 'ping']);
  });

  it('measures RTT from pongs (smoothed)', () => {
    const { clock, peer, presence } = joined();
    clock.runUntil(1000);
    const ping = peer.transport.sent.find((s) => s.frame.$hb === 'ping')!.frame as { seq: number; t: number };
    clock.runUntil(1040);
    peer.receive({ $hb: 'pong', seq: ping.seq, t: ping.t });
    expect(presence.get('peer-1')?.rttMs).toBe(1040 - ping.t);
  });

  it('goodbye → left', () => {
    const { peer, events } = joined();
    peer.receive({ $hb: 'bye' });
    expect(peer.transport.ended).toBe(true);
    peer.close();
    expect(events.map((e) => e.type)).toEqual(['joined', 'left']);
    expect(events[1].reason).toBeUndefined();
  });

  it.each([
    ['ETIMEDOUT', 'keepalive-timeout'],
    ['ECONNRESET', 'connection-reset'],
    [undefined, 'closed-without-goodbye'],
  ])('socket closed with %s → lost %s', (code, reason) => {
    const { peer, events } = joined();
    peer.close(code);
    expect(events.at(-1)).toMatchObject({ type: 'lost', reason });
  });

  it('a peer id that reconnects after lost joins again (and counts a reconnect)', () => {
    const world = joined();
    world.peer.close('ECONNRESET');
    const again = world.inbound();
    again.hello('peer-1');
    expect(world.events.map((e) => e.type)).toEqual(['joined', 'lost', 'joined']);
    expect(world.presence.get('peer-1')?.stats.reconnects).toBe(1);
  });

  it('two live links with one nodeId: one peer, alive while either link is; no event when the stale one dies', () => {
    const world = joined();
    world.clock.runUntil(3000);
    const fresh = world.inbound();
    fresh.hello('peer-1'); // e.g. a reconnect that raced the old, half-open link
    world.clock.runUntil(3600);
    expect(world.peer.transport.destroyed).toBe(true); // the old link times out…
    world.peer.close();
    expect(world.presence.peers()).toHaveLength(1);
    expect(world.presence.get('peer-1')?.status).toBe('alive');
    expect(world.events.map((e) => e.type)).toEqual(['joined', 'suspect', 'recovered']); // …without a lost
    fresh.close();
    expect(world.events.at(-1)).toMatchObject({ type: 'lost', reason: 'closed-without-goodbye' });
  });

  it('keeps a lost peer in the table for 60 s, then drops it', () => {
    const { clock, peer, presence } = joined();
    peer.close('ECONNRESET');
    clock.runUntil(59_000);
    expect(presence.get('peer-1')?.status).toBe('lost');
    expect(presence.isAlive('peer-1')).toBe(false);
    clock.runUntil(61_500);
    expect(presence.get('peer-1')).toBeUndefined();
  });

  it('closes a connection that does not handshake within handshakeTimeoutMs, with no event', () => {
    const world = virtualWorld({ server: { handshakeTimeoutMs: 2000 } });
    const peer = world.inbound();
    world.clock.runUntil(2000);
    expect(peer.transport.destroyed).toBe(false);
    world.clock.runUntil(2100);
    expect(peer.transport.destroyed).toBe(true);
    peer.close();
    expect(world.events).toEqual([]);
    expect(world.warnings.join()).toMatch(/no handshake or data within 2000 ms/);
  });

  it('a stock client (data before any hello) is an unmanaged peer, never judged on heartbeats', () => {
    const world = virtualWorld();
    const peer = world.inbound();
    expect(peer.receive({ pattern: 'echo', data: 1, id: 'x' })).toBe(true); // handed to Nest
    expect(world.events[0].peer).toMatchObject({ id: 'tcp:10.0.0.9:5000', managed: false });
    world.clock.runUntil(60_000);
    expect(peer.transport.destroyed).toBe(false);
    expect(peer.transport.kinds()).toEqual([]); // no pings to a peer that cannot answer
  });

  it('refuses a wrong token with a reject frame, closes as auth-failed, and no peer joins', () => {
    const world = virtualWorld();
    const peer = world.inbound({ authenticator: new Authenticator({ mode: 'shared', authToken: 's3cret', certificate: false }) });
    expect(peer.hello('intruder', { token: 'guess' })).toBe(false);
    expect(peer.transport.sent[0].frame).toMatchObject({ $hb: 'reject', reason: 'auth-failed' });
    // The reject goes out before FIN, and the socket is destroyed within the grace whatever the peer does.
    expect(peer.transport.ended).toBe(true);
    world.clock.advance(200);
    expect(peer.transport.destroyed).toBe(true);
    expect(peer.link.cause).toBe('auth-failed');
    expect(world.events).toEqual([]);
  });

  it('refuses data before the handshake when a token is required', () => {
    const world = virtualWorld();
    const peer = world.inbound({ authenticator: new Authenticator({ mode: 'shared', authToken: 's3cret', certificate: false }) });
    expect(peer.receive({ pattern: 'echo', data: 1 })).toBe(false); // never reaches a handler
    expect(peer.link.cause).toBe('auth-failed');
  });

  it('control frames are never handed to Nest', () => {
    const { peer } = joined();
    for (const frame of [{ $hb: 'ping', seq: 1, t: 0 }, { $hb: 'pong', seq: 1, t: 0 }, { $hb: 'bye' }]) {
      expect(peer.receive(frame)).toBe(false);
    }
  });

  it('runs one shared tick however many links, and stops it when the last closes', () => {
    const world = virtualWorld();
    const peers = Array.from({ length: 50 }, (_, i) => {
      const p = world.inbound();
      p.hello(`p${i}`);
      return p;
    });
    expect(world.ticker.running).toBe(true);
    expect(world.ticker.size).toBe(50);
    expect(world.clock.scheduler.actions.length).toBe(1); // one interval action for all 50
    for (const p of peers) p.close();
    expect(world.ticker.running).toBe(false);
  });

  describe('every ending ends (issue 10)', () => {
    it('a peer that says bye is left and its socket is cut within the grace, even if it never closes', () => {
      const { clock, peer, events } = joined();
      clock.runUntil(500);
      peer.receive({ $hb: 'bye' });
      expect(peer.transport.ended).toBe(true); // our FIN
      expect(peer.transport.destroyed).toBe(false);
      clock.runUntil(500 + 200);
      expect(peer.transport.destroyed).toBe(true); // the peer held its socket open: cut
      peer.close();
      expect(events.map((e) => e.type)).toEqual(['joined', 'left']);
    });

    it('nothing after bye is served, not even frames read in the same chunk', () => {
      const { peer } = joined();
      peer.receive({ $hb: 'bye' });
      expect(peer.receive({ pattern: 'echo', data: 1, id: 'x' })).toBe(false);
      expect(peer.receive({ $hb: 'ping', seq: 1, t: 0 })).toBe(false);
      expect(peer.transport.kinds()).toEqual(['welcome']); // no pong after bye
    });

    it('bye (or anything but hello) before the handshake on a server with a token is a protocol error, closed at once', () => {
      const world = virtualWorld();
      const peer = world.inbound({ authenticator: new Authenticator({ mode: 'shared', authToken: 's3cret', certificate: false }) });
      peer.receive({ $hb: 'bye' });
      expect(peer.transport.destroyed).toBe(true);
      expect(peer.link.cause).toBe('protocol-error');
    });

    it.each([
      ['reject', { $hb: 'reject', reason: 'auth-failed', message: { toString: 1 } }],
      ['welcome', { $hb: 'welcome', v: 1, id: 'x', meta: {} }],
      ['unknown', { $hb: 'evil\nline' }],
    ])('a %s frame from a client is a protocol error: destroyed at once, logged escaped', (_kind, frame) => {
      const world = virtualWorld();
      const peer = world.inbound();
      peer.hello('peer-1');
      peer.receive(frame);
      expect(peer.transport.destroyed).toBe(true);
      expect(peer.link.cause).toBe('protocol-error');
      expect(world.warnings.at(-1)).toMatch(/unexpected/);
      expect(world.warnings.at(-1)).not.toContain('\n');
    });

    it('a malformed ping closes the link; a pong from before the link or from the future is no RTT sample', () => {
      const world = virtualWorld({ heartbeat: { intervalMs: 1000 } });
      world.clock.runUntil(500);
      const a = world.inbound(); // connected at 500
      a.hello('a');
      world.clock.runUntil(1500);
      a.receive({ $hb: 'pong', seq: 1, t: 0 }); // t: 0 is before this link
      a.receive({ $hb: 'pong', seq: 1, t: world.clock.now + 5000 });
      expect(world.presence.get('a')?.rttMs).toBeUndefined();
      a.receive({ $hb: 'ping', seq: 'x', t: 5 });
      expect(a.link.cause).toBe('protocol-error');
      expect(a.transport.kinds()).not.toContain('pong');
    });

    it.each([
      ['a nodeId over 256 characters', { id: 'n'.repeat(257) }, /nodeId must be at most 256/],
      ['a nodeId with a newline', { id: 'a\nb' }, /printable/],
      ['metadata over 64 keys', { meta: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, /at most 64 keys/],
      ['metadata over 4 KiB', { meta: { big: 'x'.repeat(4097) } }, /4096 bytes/],
      ['non-string metadata', { meta: { n: 1 } }, /string values/],
    ])('refuses a hello with %s (protocol-error), and no peer joins', (_what, fields, message) => {
      const world = virtualWorld();
      const peer = world.inbound();
      peer.receive({ $hb: 'hello', v: 1, id: 'ok', meta: {}, ...fields });
      expect(peer.transport.sent[0].frame).toMatchObject({ $hb: 'reject', reason: 'protocol-error', message: expect.stringMatching(message) });
      expect(peer.link.cause).toBe('protocol-error');
      expect(world.events).toEqual([]);
    });
  });

  describe('retention ends on time (issue 10)', () => {
    it('a departed peer leaves peers$ after 60 s with nobody calling peers() or get()', () => {
      const { clock, peer, presence } = joined();
      const tables: string[][] = [];
      presence.peers$.subscribe((t) => tables.push(t.map((p) => `${p.id}:${p.status}`)));
      peer.close('ECONNRESET');
      clock.runUntil(clock.now + 100);
      expect(tables.at(-1)).toEqual(['peer-1:lost']);
      const lostAt = clock.now;
      clock.runUntil(lostAt + 59_000);
      expect(tables.at(-1)).toEqual(['peer-1:lost']);
      clock.runUntil(lostAt + 60_100);
      expect(tables.at(-1)).toEqual([]);
    });

    it('keeps left and lost peers 60 s in peers() and get(), then forgets both', () => {
      const world = virtualWorld();
      const a = world.inbound();
      a.hello('a');
      const b = world.inbound();
      b.hello('b');
      a.receive({ $hb: 'bye' });
      a.close();
      b.close('ECONNRESET');
      world.clock.runUntil(59_900);
      expect(world.presence.peers().map((p) => [p.id, p.status])).toEqual([['a', 'left'], ['b', 'lost']]);
      expect(world.presence.get('a')?.status).toBe('left');
      world.clock.runUntil(60_100);
      expect(world.presence.peers()).toEqual([]);
      expect(world.presence.get('b')).toBeUndefined();
    });

    it('a departed peer that joins again within the 60 s is kept, and forgotten only 60 s after it departs again', () => {
      const world = virtualWorld();
      const first = world.inbound();
      first.hello('back');
      first.close('ECONNRESET');
      world.clock.runUntil(30_000);
      const again = world.inbound();
      again.hello('back');
      again.receive({ $hb: 'bye' });
      world.clock.runUntil(40_000);
      again.close();
      world.clock.runUntil(99_000); // 69 s after the first loss, 59 s after leaving
      expect(world.presence.get('back')).toMatchObject({ status: 'left', stats: { reconnects: 1 } });
      world.clock.runUntil(100_100);
      expect(world.presence.get('back')).toBeUndefined();
    });
  });

  describe('sessions (issue 12)', () => {
    it('a new incarnation of a known nodeId replaces it at once: lost (replaced), then joined, old links cut', () => {
      const world = virtualWorld();
      const old = world.inbound();
      old.hello('peer-1', { inc: 'first' });
      world.clock.runUntil(300);
      const fresh = world.inbound();
      fresh.hello('peer-1', { inc: 'second' });
      expect(world.events.map((e) => [e.type, e.reason])).toEqual([['joined', undefined], ['lost', 'replaced'], ['joined', undefined]]);
      expect(world.events[1].at).toBe(300); // at once, not after the heartbeat bound
      expect(old.transport.destroyed).toBe(true);
      old.close();
      expect(world.events).toHaveLength(3); // the old link's close is not a second event
      expect(world.presence.get('peer-1')?.status).toBe('alive');
    });

    it('the same incarnation over a second link is one peer, as before', () => {
      const world = virtualWorld();
      world.inbound().hello('peer-1', { inc: 'one' });
      world.inbound().hello('peer-1', { inc: 'one' });
      expect(world.events.map((e) => e.type)).toEqual(['joined']);
    });

    describe('resume window', () => {
      const resume = { heartbeat: { intervalMs: 1000, resumeWindowMs: 2000 } };

      it('a reset link makes the peer suspect; the same incarnation back within the window is recovered, no lost', () => {
        const world = virtualWorld(resume);
        const a = world.inbound();
        a.hello('peer-1', { inc: 'one' });
        a.close('ECONNRESET');
        expect(world.presence.get('peer-1')?.status).toBe('suspect');
        world.clock.runUntil(1500);
        world.inbound().hello('peer-1', { inc: 'one' });
        world.clock.runUntil(2500); // past the window's end: nothing more
        expect(world.events.map((e) => e.type)).toEqual(['joined', 'suspect', 'recovered']);
      });

      it('past the window: lost with the original reason, when the window ends', () => {
        const world = virtualWorld(resume);
        const a = world.inbound();
        a.hello('peer-1', { inc: 'one' });
        world.clock.runUntil(100);
        a.close(); // FIN without bye
        world.clock.runUntil(2099);
        expect(world.events.map((e) => e.type)).toEqual(['joined', 'suspect']);
        world.clock.runUntil(2101);
        expect(world.events.map((e) => [e.type, e.reason])).toEqual([['joined', undefined], ['suspect', undefined], ['lost', 'closed-without-goodbye']]);
        expect(world.events[2].at).toBe(2100);
      });

      it('a new incarnation inside the window is replaced, not recovered', () => {
        const world = virtualWorld(resume);
        const a = world.inbound();
        a.hello('peer-1', { inc: 'one' });
        a.close('ECONNRESET');
        world.inbound().hello('peer-1', { inc: 'two' });
        world.clock.runUntil(1400);
        expect(world.events.map((e) => [e.type, e.reason])).toEqual([
          ['joined', undefined], ['suspect', undefined], ['lost', 'replaced'], ['joined', undefined],
        ]);
      });

      it('a goodbye, a heartbeat timeout or a protocol error is not forgiven', () => {
        const world = virtualWorld(resume);
        const a = world.inbound();
        a.hello('a', { inc: 'one' });
        a.receive({ $hb: 'bye' });
        a.close();
        const b = world.inbound();
        b.hello('b', { inc: 'one' });
        b.receive({ $hb: 'nonsense' });
        b.close();
        expect(world.events.map((e) => [e.type, e.peer.id])).toEqual([['joined', 'a'], ['left', 'a'], ['joined', 'b'], ['lost', 'b']]);
      });
    });

    describe('server ping policy', () => {
      it('closes a peer that pings faster than the floor after 3 strikes, with too-many-pings and a GOAWAY', () => {
        const world = virtualWorld({ server: { minPingIntervalMs: 100 } });
        const raw = world.inbound();
        raw.hello('pinger');
        expect(raw.transport.sent[0].frame).toMatchObject({ $hb: 'welcome', minPing: 100 });
        for (let i = 1; i <= 3; i++) { // the first ping, then two strikes: still served
          world.clock.runUntil(i);
          raw.receive({ $hb: 'ping', seq: i, t: world.clock.now });
        }
        expect(raw.link.cause).toBeUndefined();
        expect(raw.transport.kinds().filter((k) => k === 'pong')).toHaveLength(3);
        world.clock.runUntil(4);
        raw.receive({ $hb: 'ping', seq: 4, t: 4 }); // the third strike
        expect(raw.link.cause).toBe('too-many-pings');
        expect(raw.transport.kinds().slice(-1)).toEqual(['bye']);
        expect(raw.transport.sent.at(-1)!.frame).toEqual({ $hb: 'bye', reason: 'too-many-pings' });
        raw.close();
        expect(world.events.at(-1)).toMatchObject({ type: 'lost', reason: 'too-many-pings' });
      });

      it('never strikes a peer whose pings queued while our own loop was blocked, however many arrive together', () => {
        const world = virtualWorld({ heartbeat: { intervalMs: 1000 }, server: { minPingIntervalMs: 100 } });
        const peer = world.inbound();
        peer.hello('patient');
        world.clock.runUntil(100);
        peer.receive({ $hb: 'ping', seq: 1, t: 100 });
        // Our loop was blocked from 110 to 600 (the ticker saw its tick due at 110 fire at 600):
        // the five pings sent meanwhile wait in the socket and are read together, right after.
        world.clock.runUntil(600);
        (world.ticker as unknown as { lag: { record(now: number, dueAt: number): void } }).lag.record(600, 110);
        for (let seq = 2; seq <= 6; seq++) peer.receive({ $hb: 'ping', seq, t: 100 * seq });
        expect(peer.link.cause).toBeUndefined();
      });

      it('never strikes a peer that pings at the floor', () => {
        const world = virtualWorld({ server: { minPingIntervalMs: 100 } });
        const honest = world.inbound();
        honest.hello('honest');
        for (let t = 95; t < 5000; t += 95) { // half a tick early, every time
          world.clock.runUntil(t);
          honest.receive({ $hb: 'ping', seq: t, t });
        }
        expect(honest.link.cause).toBeUndefined();
      });

      it('a client refuses a floor beyond its own lost threshold: detection could not work on that link', () => {
        const world = virtualWorld({ heartbeat: { intervalMs: 20 } }); // lost after 3 × 20 + 10 = 70 ms of silence
        const a = world.outbound();
        a.welcome('server-1', { minPing: 100 });
        expect(a.link.phase).toBe('closing');
        expect(a.link.cause).toBe('protocol-error');
        expect(a.link.refusal?.message).toMatch(/no faster than every 100 ms, beyond this link's lost threshold \(70 ms\)/);
        expect(world.events).toEqual([]);
        const rogue = world.outbound();
        rogue.welcome('server-1', { minPing: 2 ** 31 - 1 }); // "never ping": would switch detection off
        expect(rogue.link.cause).toBe('protocol-error');
      });

      it('a client configured faster adopts the server floor on that link and warns once', () => {
        const world = virtualWorld({ heartbeat: { intervalMs: 40 } }); // lost after 130 ms: a 100 ms floor still detects
        const a = world.outbound();
        a.welcome('server-1', { minPing: 100 });
        const b = world.outbound();
        b.welcome('server-1', { minPing: 100 });
        const start = world.clock.now;
        world.clock.runUntil(start + 1000);
        const pings = a.transport.sent.filter((s) => s.frame.$hb === 'ping');
        for (let i = 1; i < pings.length; i++) expect(pings[i].at - pings[i - 1].at).toBeGreaterThanOrEqual(95);
        expect(pings.length).toBeLessThanOrEqual(11);
        expect(world.warnings.filter((w) => /no faster than every 100 ms/.test(w))).toHaveLength(1);
      });

      it('a client told by GOAWAY that it pinged too fast records a loss, not a departure', () => {
        const world = virtualWorld();
        const a = world.outbound();
        a.welcome();
        a.receive({ $hb: 'bye', reason: 'too-many-pings' });
        a.close();
        expect(world.events.at(-1)).toMatchObject({ type: 'lost', reason: 'too-many-pings' });
      });
    });
  });
});
