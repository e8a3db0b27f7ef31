/**
 * The server's ping policy as the pure function it is: which ping schedules are struck and which
 * are not. (Over a link, with the GOAWAY: detector-virtual-time.spec.ts and sessions.spec.ts.)
 */
import { afterPing, MAX_PING_STRIKES, NO_PINGS, PING_BURST, tooManyPings, type PingRecord } from '../../src/detector/ping-policy.js';

const FLOOR = 100;

/** Feeds pings at these times; returns the ping (1-based) that closed the link, or undefined. */
function closedAt(times: number[], stalled: (t: number) => number = () => 0): number | undefined {
  let r: PingRecord = NO_PINGS;
  for (let i = 0; i < times.length; i++) {
    r = afterPing(r, times[i], FLOOR, stalled(times[i]));
    if (tooManyPings(r)) return i + 1;
  }
  return undefined;
}

const every = (gapMs: number, count: number, from = 0) => Array.from({ length: count }, (_, i) => from + i * gapMs);

describe('ping policy (too-many-pings, 3 strikes in a row)', () => {
  test('a peer that floods from its first ping is closed on its fourth: the first, then three strikes', () => {
    expect(MAX_PING_STRIKES).toBe(3);
    expect(closedAt(every(1, 100))).toBe(4);
  });

  test('a peer pinging just under the pace (70 ms against 75 % of a 100 ms floor) is closed: it cannot alternate its way out', () => {
    expect(closedAt(every(70, 200))).toBeDefined();
  });

  test('honest paces are never struck: at the floor, half a tick early, with jitter', () => {
    expect(closedAt(every(100, 500))).toBeUndefined();
    expect(closedAt(every(95, 500))).toBeUndefined();
    expect(closedAt(every(76, 500))).toBeUndefined();
    const jittery = [0];
    for (let i = 1; i < 500; i++) jittery.push(jittery[i - 1] + 100 + (i % 2 === 0 ? 45 : -45)); // 55 ms, 145 ms, …
    expect(closedAt(jittery)).toBeUndefined();
  });

  test(`a burst the pace paid for is forgiven: pings every second, then ${PING_BURST} delivered at once after a path stall`, () => {
    const times = [...every(1000, 20), ...Array.from({ length: PING_BURST }, () => 30_000), ...every(1000, 20, 31_000)];
    expect(closedAt(times)).toBeUndefined();
  });

  test('no more than that: a burst far beyond the credit is struck', () => {
    const times = [...every(1000, 20), ...every(1, 4 * PING_BURST, 30_000)];
    expect(closedAt(times)).toBe(20 + PING_BURST + MAX_PING_STRIKES);
  });

  test('pings read together after our own loop was blocked are never struck, however many', () => {
    const times = [0, ...every(0.01, 50, 600)];
    expect(closedAt(times, (t) => (t >= 600 ? 490 : 0))).toBeUndefined();
  });

  test('one ping at an honest pace forgives: strikes count in a row', () => {
    let r: PingRecord = NO_PINGS;
    const strikes = [0, 1, 2, 302, 303, 304, 305].map((at) => (r = afterPing(r, at, FLOOR, 0)).strikes);
    // Two strikes, then a ping 300 ms later starts the count again: the link is never closed.
    expect(strikes).toEqual([0, 1, 2, 0, 0, 1, 2]);
    expect(tooManyPings(r)).toBe(false);
  });
});
