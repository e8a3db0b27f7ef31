import { adaptiveRule, DEFAULT_ADAPTIVE_LEVELS, minDeviation, NO_GAPS, observeGap, type GapEstimate } from '../../src/detector/adaptive-detector.js';
import { detectionRule, judgeSilence } from '../../src/detector/failure-detector.js';
import { afterArrival, afterGap, linkDetector, withRule } from '../../src/detector/link-detector.js';
import { resolveHeartbeatOptions } from '../../src/options/resolve-options.js';
import { virtualWorld } from '../support/virtual-peer.js';

const I = 1000;
const rule = detectionRule({ intervalMs: I, missedBeats: 3, suspectAfterBeats: 1 }); // suspect 1500, lost 3500
const levels = DEFAULT_ADAPTIVE_LEVELS;
const gaps = (list: number[], from: GapEstimate = NO_GAPS) => list.reduce((e, g) => observeGap(e, g, rule), from);

describe('adaptive detector: the estimate', () => {
  it('is the mean and population variance of the gaps while there are few', () => {
    const e = gaps([900, 1000, 1100, 1000]);
    expect(e.gaps).toBe(4);
    expect(e.mean).toBeCloseTo(1000, 9);
    expect(e.variance).toBeCloseTo(5000, 6); // (100² + 0 + 100² + 0) / 4
  });

  it('takes no sample from a gap under half an interval (data traffic, a pong crossing a ping)', () => {
    const e = gaps([1000, 1000]);
    expect(observeGap(e, 499, rule)).toBe(e);
    expect(observeGap(e, 0, rule)).toBe(e);
    expect(observeGap(e, 500, rule).gaps).toBe(3);
  });

  it('forgets old gaps with a memory of 16: a noisy past fades', () => {
    const noisy = gaps(Array.from({ length: 32 }, (_, i) => (i % 2 ? 600 : 1400)));
    const quiet = gaps(Array(64).fill(1000), noisy);
    expect(Math.sqrt(noisy.variance)).toBeGreaterThan(350);
    expect(Math.sqrt(quiet.variance)).toBeLessThan(60); // (15/16)^64 of the variance is left: under the floor
    expect(adaptiveRule(quiet, rule, levels).suspectAfterMs).toBeCloseTo(1600, -1);
  });
});

describe('adaptive detector: the thresholds', () => {
  it('is the fixed rule until warmupGaps gaps are seen', () => {
    const few = gaps(Array(levels.warmupGaps - 1).fill(1000));
    expect(adaptiveRule(few, rule, levels)).toBe(rule);
    const enough = observeGap(few, 1000, rule);
    expect(adaptiveRule(enough, rule, levels)).not.toBe(rule);
  });

  it('on a regular link: one interval plus the levels times the floor deviation (a tenth of the interval)', () => {
    const e = gaps(Array(20).fill(1000));
    expect(minDeviation(rule)).toBe(100);
    expect(adaptiveRule(e, rule, levels)).toEqual({ ...rule, suspectAfterMs: 1600, lostAfterMs: 2000 });
  });

  it('never expects less than an interval: busy links (short gaps) do not lower the thresholds under the beat', () => {
    const e = gaps(Array(20).fill(600));
    expect(adaptiveRule(e, rule, levels)).toMatchObject({ suspectAfterMs: 1600, lostAfterMs: 2000 });
  });

  it('widens with the deviation the link shows', () => {
    const e = gaps(Array.from({ length: 40 }, (_, i) => (i % 2 ? 1000 : 1300))); // mean 1150, deviation 150
    const r = adaptiveRule(e, rule, levels);
    expect(r.suspectAfterMs).toBeCloseTo(1150 + 6 * 150, -1);
    expect(r.lostAfterMs).toBeCloseTo(1150 + 10 * 150, -1);
  });

  it('is never later than the fixed lost threshold, and suspect never after lost, however wild the gaps', () => {
    const e = gaps(Array.from({ length: 40 }, (_, i) => (i % 2 ? 500 : 5000)));
    const r = adaptiveRule(e, rule, levels);
    expect(r.lostAfterMs).toBe(rule.lostAfterMs);
    expect(r.suspectAfterMs).toBe(rule.lostAfterMs);
    expect(judgeSilence(3501, r, 0)).toBe('lost');
  });

  it('own-loop lag stretches both thresholds, as for the fixed rule', () => {
    const r = adaptiveRule(gaps(Array(20).fill(1000)), rule, levels);
    expect(judgeSilence(2100, r, 0)).toBe('lost');
    expect(judgeSilence(2300, r, 600)).toBe('suspect'); // lost only past 2000 + 600
    expect(judgeSilence(2300, r, 1200)).toBe('alive');
  });

  it('the seam: the fixed detector ignores gaps; the adaptive one derives its rule from them', () => {
    const fixed = linkDetector('fixed', rule, levels);
    expect(afterGap(fixed, 1000)).toBe(fixed);
    let adaptive = linkDetector('adaptive', rule, levels);
    expect(adaptive.rule).toBe(rule);
    expect(afterGap(adaptive, 10)).toBe(adaptive); // no sample: the same object, nothing allocated
    for (let i = 0; i < 10; i++) adaptive = afterGap(adaptive, 1000);
    expect(adaptive.rule).toMatchObject({ suspectAfterMs: 1600, lostAfterMs: 2000 });
    // A gap is measured without the time our own loop was blocked.
    const blocked = afterArrival(linkDetector('adaptive', rule, { ...levels, warmupGaps: 1 }), 1900, 0, { blockedSince: () => 900 });
    expect(blocked.kind === 'adaptive' && blocked.estimate.mean).toBe(1000);
    // A slower rule (the server's ping floor) restarts the estimate under it; the same rule changes nothing.
    const slower = detectionRule({ intervalMs: 2000, missedBeats: 3, suspectAfterBeats: 1 });
    expect(withRule(adaptive, rule)).toBe(adaptive);
    expect(withRule(adaptive, slower)).toMatchObject({ kind: 'adaptive', rule: slower, estimate: NO_GAPS });
    expect(withRule(fixed, slower)).toEqual({ kind: 'fixed', rule: slower });
  });
});

describe('heartbeat.detector option', () => {
  it("defaults to 'fixed', accepts 'adaptive', refuses anything else naming the option", () => {
    expect(resolveHeartbeatOptions().heartbeat.detector).toBe('fixed');
    expect(resolveHeartbeatOptions({ heartbeat: { detector: 'adaptive' } }).heartbeat.detector).toBe('adaptive');
    expect(() => resolveHeartbeatOptions({ heartbeat: { detector: 'phi' as never } })).toThrow(/heartbeat\.detector.*'fixed' or 'adaptive'.*"phi"/);
  });
});

/** On virtual time, through a real PeerLink, ticker and peer table. */
describe('adaptive detector on virtual time', () => {
  const TICK = 100;

  function beating(beats: number, gapMs = I) {
    const world = virtualWorld({ heartbeat: { intervalMs: I, detector: 'adaptive' }, server: { minPingIntervalMs: 0 } });
    const peer = world.inbound();
    peer.hello('peer-1');
    let t = 0;
    for (let i = 1; i <= beats; i++) {
      t = i * gapMs;
      world.clock.runUntil(t);
      peer.ping(i);
    }
    return { ...world, peer, last: t };
  }

  function lostAt(world: ReturnType<typeof beating>, until: number): number | undefined {
    for (let t = world.last; t <= until; t += 10) {
      world.clock.runUntil(t);
      if (world.peer.transport.destroyed) return t;
    }
    return undefined;
  }

  it('a hang after a regular warm-up: suspect after 1.6 intervals, lost after 2 (fixed: 1.5 and 3.5)', () => {
    const world = beating(20);
    world.clock.runUntil(world.last + 1600);
    expect(world.events.map((e) => e.type)).toEqual(['joined']);
    world.clock.runUntil(world.last + 1600 + TICK);
    expect(world.events.map((e) => e.type)).toEqual(['joined', 'suspect']);
    const lost = lostAt(world, world.last + 4000)!;
    expect(lost).toBeGreaterThan(world.last + 2000);
    expect(lost).toBeLessThanOrEqual(world.last + 2000 + TICK);
  });

  it('during warm-up (fewer than 8 gaps) it is the fixed rule: lost after 3.5 intervals', () => {
    const world = beating(5);
    const lost = lostAt(world, world.last + 5000)!;
    expect(lost).toBeGreaterThan(world.last + 3500);
    expect(lost).toBeLessThanOrEqual(world.last + 3500 + TICK);
  });

  it('a link with wild gaps is never lost later than the fixed rule would lose it', () => {
    const world = virtualWorld({ heartbeat: { intervalMs: I, detector: 'adaptive' }, server: { minPingIntervalMs: 0 } });
    const peer = world.inbound();
    peer.hello('peer-1');
    let t = 0;
    for (let i = 1; i <= 30; i++) {
      t += i % 2 ? 600 : 3000; // within the fixed rule (3.5 s), far from regular
      world.clock.runUntil(t);
      peer.ping(i);
    }
    expect(peer.transport.destroyed).toBe(false);
    const lost = lostAt({ ...world, peer, last: t } as never, t + 5000)!;
    expect(lost).toBeLessThanOrEqual(t + 3500 + TICK);
  });

  it('a peer pausing now and then (every fourth beat 650 ms late) is learned: no suspicion after warm-up where the fixed rule suspects each time', () => {
    for (const detector of ['fixed', 'adaptive'] as const) {
      const world = virtualWorld({ heartbeat: { intervalMs: I, detector }, server: { minPingIntervalMs: 0 } });
      const peer = world.inbound();
      peer.hello('peer-1');
      let t = 0;
      for (let i = 1; i <= 60; i++) {
        t += i % 4 === 0 ? 1650 : 1000;
        world.clock.runUntil(t);
        peer.ping(i);
      }
      const suspicions = world.events.filter((e) => e.type === 'suspect').length;
      if (detector === 'fixed') expect(suspicions).toBe(15);
      else expect(suspicions).toBe(2); // the 4th and 8th gaps, during warm-up, when it is the fixed rule
    }
  });
});
