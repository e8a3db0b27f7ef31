import { afterBeat, afterSilence, detectionRule, judgeSilence, pingDue, tickPeriod } from '../../src/detector/failure-detector.js';
import { LoopLag } from '../../src/detector/loop-lag.js';
import { peerStatus, presenceTransition } from '../../src/presence/peer-table.js';
import { smoothRtt } from '../../src/detector/rtt.js';
import { causeFromSocketError } from '../../src/link/close-cause.js';

describe('silence thresholds (API.md Timing)', () => {
  const t = detectionRule({ intervalMs: 1000, missedBeats: 3, suspectAfterBeats: 1 });

  it('suspect after suspectAfterBeats × interval + interval/2, lost after missedBeats × interval + interval/2', () => {
    expect(t).toEqual({ suspectAfterMs: 1500, lostAfterMs: 3500, pingAfterMs: 1000, tickMs: 100 });
  });

  it.each([
    [0, 'alive'], [1500, 'alive'], [1501, 'suspect'], [3500, 'suspect'], [3501, 'lost'],
  ] as const)('silence %i ms → %s', (silence, verdict) => {
    expect(judgeSilence(silence, t, 0)).toBe(verdict);
  });

  it('stretches both thresholds by this process’s own loop lag', () => {
    expect(judgeSilence(3600, t, 0)).toBe('lost');
    expect(judgeSilence(3600, t, 3000)).toBe('alive');
    expect(judgeSilence(5000, t, 3000)).toBe('suspect');
    expect(judgeSilence(6501, t, 3000)).toBe('lost');
  });

  it('pings once nothing was sent for an interval, never later than half a tick', () => {
    expect(pingDue(1000, 0, t)).toBe(true);
    expect(pingDue(950, 0, t)).toBe(true);
    expect(pingDue(949, 0, t)).toBe(false);
  });

  it('moves a link alive → suspect → lost on silence; only a beat makes it alive again', () => {
    expect(afterSilence('alive', 'alive')).toBe('alive');
    expect(afterSilence('alive', 'suspect')).toBe('suspect');
    expect(afterSilence('suspect', 'alive')).toBe('suspect'); // a stretched threshold is no beat
    expect(afterSilence('suspect', 'lost')).toBe('lost');
    expect(afterSilence('alive', 'lost')).toBe('lost');
    expect(afterBeat('suspect')).toBe('alive');
    expect(afterBeat('alive')).toBe('alive');
  });

  it('ticks at a tenth of the interval, within 5..100 ms', () => {
    expect(tickPeriod(1000)).toBe(100);
    expect(tickPeriod(100)).toBe(10);
    expect(tickPeriod(20)).toBe(5);
    expect(tickPeriod(60_000)).toBe(100);
  });
});

describe('LoopLag', () => {
  it('ignores jitter below one tick and sums the stalls that ended after t', () => {
    const lag = new LoopLag(100, 10_000);
    lag.record(1000, 950); // 50 ms late: jitter
    expect(lag.blockedSince(0)).toBe(0);
    lag.record(4000, 1100); // 2900 ms stall
    lag.record(5000, 4600); // 400 ms stall
    expect(lag.blockedSince(0)).toBe(3300);
    expect(lag.blockedSince(4000)).toBe(400);
    expect(lag.blockedSince(5000)).toBe(0);
  });

  it('forgets stalls older than its memory', () => {
    const lag = new LoopLag(100, 1000);
    lag.record(1000, 0);
    lag.record(2500, 2400);
    expect(lag.blockedSince(0)).toBe(0);
  });
});

describe('peer state machine', () => {
  const links = (...s: Array<'alive' | 'suspect'>) => s.map((status) => ({ status }));

  it('is alive while any link is, suspect when all are, then left or lost', () => {
    expect(peerStatus(links('suspect', 'alive'), false)).toBe('alive');
    expect(peerStatus(links('suspect', 'suspect'), false)).toBe('suspect');
    expect(peerStatus([], true)).toBe('left');
    expect(peerStatus([], false)).toBe('lost');
  });

  it.each([
    [undefined, 'alive', 'joined'],
    ['lost', 'alive', 'joined'],
    ['left', 'alive', 'joined'],
    ['alive', 'suspect', 'suspect'],
    ['suspect', 'alive', 'recovered'],
    ['alive', 'lost', 'lost'],
    ['suspect', 'lost', 'lost'],
    ['alive', 'left', 'left'],
    ['suspect', 'left', 'left'],
    ['alive', 'alive', undefined],
    ['lost', 'lost', undefined],
  ] as const)('%s → %s emits %s', (from, to, event) => {
    expect(presenceTransition(from, to)).toBe(event);
  });
});

describe('close causes', () => {
  it.each([
    ['ETIMEDOUT', 'keepalive-timeout'],
    ['EHOSTUNREACH', 'keepalive-timeout'],
    ['ECONNRESET', 'connection-reset'],
    ['EPIPE', 'connection-reset'],
    [undefined, 'closed-without-goodbye'],
  ])('%s → %s', (code, reason) => expect(causeFromSocketError(code)).toBe(reason));
});

describe('smoothed RTT (RFC 6298)', () => {
  it('takes the first sample, then moves 1/8 of the way to each new one', () => {
    expect(smoothRtt(undefined, 8)).toBe(8);
    expect(smoothRtt(8, 16)).toBe(9);
  });
});
