import fc from 'fast-check';
import { adaptiveRule, NO_GAPS, observeGap, type AdaptiveLevels, type GapEstimate } from '../../src/detector/adaptive-detector.js';
import { detectionRule, type DetectionRule } from '../../src/detector/failure-detector.js';
import { virtualWorld } from '../support/virtual-peer.js';

/**
 * Both detectors on virtual time, through a real PeerLink, HeartbeatTicker (its timing wheel
 * included) and PeerTable, over random options, beat schedules and stalls of our own loop: every
 * verdict comes after the rule says so and at most one tick later. The rule is computed here,
 * from the beat schedule alone: the fixed thresholds of API.md "Timing", or the adaptive ones
 * from the estimate the gaps give, both stretched by the stalls that ended after the last beat.
 *
 * Times are chosen off the tick grid (beats at .25, stall records at .75 of a millisecond; ticks
 * fall on whole ones), so "after the rule" is never a tie.
 */

interface Scenario {
  intervalMs: number;
  missedBeats: number;
  suspectAfterBeats: number;
  detector: 'fixed' | 'adaptive';
  levels: AdaptiveLevels;
  /** Arrival times of the peer's frames (after its hello at 0). */
  beats: number[];
  /** Stalls of our own loop, each recorded when it ended (as the ticker learns of one). */
  stalls: Array<{ end: number; length: number }>;
}

const scenario = fc.record({
  intervalMs: fc.integer({ min: 10, max: 3000 }),
  missedBeats: fc.integer({ min: 1, max: 6 }),
  suspectShare: fc.double({ min: 0, max: 1, noNaN: true }),
  detector: fc.constantFrom('fixed' as const, 'adaptive' as const),
  suspectDeviations: fc.double({ min: 0.5, max: 10, noNaN: true }),
  lostExtra: fc.double({ min: 0, max: 10, noNaN: true }),
  warmupGaps: fc.integer({ min: 1, max: 12 }),
  // Gaps in intervals: mostly near one (a healthy beat), some anywhere up to past the lost threshold.
  gaps: fc.array(fc.oneof(
    { weight: 3, arbitrary: fc.double({ min: 0.8, max: 1.3, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: 7.5, noNaN: true }) },
  ), { minLength: 1, maxLength: 30 }),
  stalls: fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), length: fc.double({ min: 0, max: 2, noNaN: true }) }), { maxLength: 3 }),
}).map((r): Scenario => {
  const I = r.intervalMs;
  const tick = Math.min(100, Math.max(5, Math.round(I / 10)));
  const beats: number[] = [];
  let t = 0;
  for (const g of r.gaps) {
    t = Math.floor(t + g * I) + 1.25;
    beats.push(t);
  }
  const stalls = r.stalls.map((s) => ({ end: Math.floor(s.at * t) + 0.75, length: tick + 1 + Math.floor(s.length * I) }))
    .sort((a, b) => a.end - b.end)
    .filter((s, i, all) => i === 0 || s.end !== all[i - 1].end);
  return {
    intervalMs: I, missedBeats: r.missedBeats, suspectAfterBeats: 1 + Math.floor(r.suspectShare * (r.missedBeats - 0.001)),
    detector: r.detector, beats, stalls,
    levels: { suspectDeviations: r.suspectDeviations, lostDeviations: r.suspectDeviations + r.lostExtra, warmupGaps: r.warmupGaps },
  };
});

interface Observed { suspects: number[]; lostAt: number | undefined; tickMs: number }

/** Runs the scenario on a real link; returns when it was suspected and lost. */
function run(s: Scenario): Observed {
  const world = virtualWorld({
    heartbeat: { intervalMs: s.intervalMs, missedBeats: s.missedBeats, suspectAfterBeats: s.suspectAfterBeats, detector: s.detector },
    server: { minPingIntervalMs: 0 }, // no ping strikes: the schedule is arbitrary
  });
  Object.assign(world.options.heartbeat.adaptiveLevels, s.levels);
  const lag = (world.ticker as unknown as { lag: { record(now: number, dueAt: number): void } }).lag;
  const peer = world.inbound();
  let lostAt: number | undefined;
  peer.transport.destroy = () => void (lostAt ??= world.clock.now);
  peer.hello('peer-1');
  const fixed = detectionRule(s);
  const actions = [
    ...s.beats.map((t, i) => ({ t, act: () => peer.ping(i + 1) })),
    ...s.stalls.map((st) => ({ t: st.end, act: () => lag.record(st.end, st.end - st.length) })),
  ].sort((a, b) => a.t - b.t);
  for (const a of actions) {
    world.clock.runUntil(a.t);
    if (lostAt !== undefined) break;
    a.act();
  }
  const stretch = s.stalls.reduce((sum, st) => sum + st.length, 0);
  world.clock.runUntil(Math.max(...s.beats, ...s.stalls.map((st) => st.end)) + fixed.lostAfterMs + stretch + 3 * fixed.tickMs);
  return { suspects: world.events.filter((e) => e.type === 'suspect').map((e) => e.at), lostAt, tickMs: fixed.tickMs };
}

/** Our own loop's stalls as the link sees them at time t: those recorded by t that ended after `since`, less those the ticker forgot. */
function blocked(s: Scenario, since: number, t: number, keepMs: number): number {
  const recorded = s.stalls.filter((st) => st.end <= t);
  const latest = recorded.at(-1)?.end ?? -Infinity;
  return recorded.filter((st) => st.end > since && latest - st.end <= keepMs).reduce((sum, st) => sum + st.length, 0);
}

/** The first instant after which `silence > threshold + stretch` holds in the silence that began at `since` (stretch only steps at records). */
function ruleTime(s: Scenario, since: number, threshold: number, keepMs: number): number {
  const steps = [since, ...s.stalls.map((st) => st.end).filter((e) => e > since), Infinity];
  for (let j = 0; j < steps.length - 1; j++) {
    const at = Math.max(steps[j], since + threshold + blocked(s, since, steps[j], keepMs));
    if (at < steps[j + 1]) return at;
  }
  return Infinity;
}

/** Checks the observed verdicts against the rule, silence by silence. Returns a description of the first violation. */
function violation(s: Scenario, o: Observed): string | undefined {
  const fixed = detectionRule(s);
  const keepMs = 4 * fixed.lostAfterMs; // the ticker's LoopLag memory
  let estimate: GapEstimate = NO_GAPS;
  let thresholds: DetectionRule = fixed;
  let since = 0;
  const beats = [...s.beats, Infinity];
  for (const next of beats) {
    const suspectBy = ruleTime(s, since, thresholds.suspectAfterMs, keepMs);
    const lostBy = ruleTime(s, since, thresholds.lostAfterMs, keepMs);
    const suspected = o.suspects.filter((t) => t > since && t <= next);
    const lostHere = o.lostAt !== undefined && o.lostAt > since && o.lostAt <= next ? o.lostAt : undefined;
    const where = `silence from ${since} (next beat ${next}; suspect by ${suspectBy}, lost by ${lostBy}, tick ${o.tickMs})`;
    if (lostHere !== undefined && !(lostHere > lostBy && lostHere <= lostBy + o.tickMs)) return `lost at ${lostHere}: ${where}`;
    if (lostHere === undefined && next > lostBy + o.tickMs) return `not lost: ${where}`;
    if (suspected.length > 1) return `suspected twice: ${where}`;
    const sAt = suspected[0];
    if (sAt !== undefined && !(sAt > suspectBy && sAt <= suspectBy + o.tickMs)) return `suspect at ${sAt}: ${where}`;
    // A suspicion is due when its instant is a tick before the next beat, unless the same tick already found it lost.
    const lostFirst = lostHere !== undefined && lostHere <= suspectBy + o.tickMs;
    if (sAt === undefined && suspectBy < lostBy && next > suspectBy + o.tickMs && !lostFirst) return `not suspected: ${where}`;
    if (lostHere !== undefined || next === Infinity) return undefined;
    // The beat: the adaptive detector learns the gap (our own stalls taken out).
    if (s.detector === 'adaptive') {
      estimate = observeGap(estimate, next - since - blocked(s, since, next, keepMs), fixed);
      thresholds = adaptiveRule(estimate, fixed, s.levels);
    }
    since = next;
  }
  return undefined;
}

describe('detector properties on virtual time (both detectors, random options, schedules and stalls)', () => {
  it('no verdict before the rule, none later than one tick after it', () => {
    fc.assert(fc.property(scenario, (s) => {
      const problem = violation(s, run(s));
      if (problem) throw new Error(problem);
    }), { numRuns: 300 });
  });

  it('the adaptive detector never convicts later than the fixed rule of the same options', () => {
    fc.assert(fc.property(scenario, (s) => {
      const fixed = detectionRule(s);
      let estimate = NO_GAPS;
      let since = 0;
      for (const t of s.beats) {
        estimate = observeGap(estimate, t - since, fixed);
        since = t;
        const r = adaptiveRule(estimate, fixed, s.levels);
        if (r.lostAfterMs > fixed.lostAfterMs || r.suspectAfterMs > r.lostAfterMs) return false;
      }
      return true;
    }), { numRuns: 500 });
  });
});
