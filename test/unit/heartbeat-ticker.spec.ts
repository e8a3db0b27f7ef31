/**
 * The ticker's timing wheel on virtual time: every target it drives is visited again by the time
 * it asked for (or by the wheel's horizon), also when this process's loop stalls and one late
 * tick has to cover many slots. The targets are plain objects: what is under test is the wheel.
 */
import { config, VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { HeartbeatTicker, NOT_TICKED, type TickTarget } from '../../src/detector/heartbeat-ticker.js';

const TICK = 10;
const HORIZON_MS = 64 * TICK; // the wheel's 64 slots

class Target implements TickTarget {
  tickSlot = NOT_TICKED;
  tickToken = -1;
  readonly visits: number[] = [];
  /** Longest wait between what the target asked for and its next visit. */
  worstLateness = 0;
  private askedFor: number | undefined;

  constructor(private readonly waitMs: (now: number) => number, private readonly onVisit?: (now: number) => void) {}

  onTick(now: number): number {
    if (this.askedFor !== undefined) this.worstLateness = Math.max(this.worstLateness, now - this.askedFor);
    this.visits.push(now);
    this.onVisit?.(now);
    const wait = this.waitMs(now);
    this.askedFor = now + Math.min(wait, HORIZON_MS);
    return now + wait;
  }
}

function world(endMs: number) {
  const scheduler = new VirtualTimeScheduler(VirtualAction, endMs);
  const ticker = new HeartbeatTicker({ tickMs: TICK, lostAfterMs: 350 }, scheduler);
  /** A stall of this process's loop: the clock jumps while a target's visit runs. */
  const stall = (ms: number) => void (scheduler.frame += ms);
  return { scheduler, ticker, stall };
}

describe('HeartbeatTicker timing wheel (virtual time)', () => {
  test.each([
    ['a stall longer than the whole wheel (1,000 ms = 100 ticks)', 1_000],
    ['a stall of one tick and a half (the late tick covers two slots)', 15],
    ['a stall of 63 ticks', 630],
  ])('after %s every target is visited again, none dropped from the wheel', (_name, stallMs) => {
    const { scheduler, ticker, stall } = world(20_000);
    // Targets with every kind of wait: a link's ping and verdict times (10–600 ms), and waits
    // beyond the wheel (a 10 s handshake deadline) that the horizon cuts to 640 ms.
    const targets: Target[] = [];
    for (let i = 0; i < 200; i++) {
      const wait = i % 3 === 0 ? 10_000 : 10 + ((i * 37) % 600);
      targets.push(new Target(() => wait));
    }
    // One target stalls the loop every 500 ms.
    let lastStall = 0;
    targets.push(new Target(() => 100, (now) => {
      if (now - lastStall >= 500) {
        lastStall = now;
        stall(stallMs);
      }
    }));
    for (const t of targets) ticker.add(t);
    scheduler.flush();
    ticker.onApplicationShutdown();
    const end = 20_000;
    for (const t of targets) {
      // Visited until the end, never later than asked by more than the stall and two ticks.
      expect(end - t.visits[t.visits.length - 1]).toBeLessThanOrEqual(HORIZON_MS + stallMs + 2 * TICK);
      expect(t.worstLateness).toBeLessThanOrEqual(stallMs + 2 * TICK);
    }
  });

  test('a target woken during a late tick is visited on the next one', () => {
    const { scheduler, ticker, stall } = world(5_000);
    const sleeper = new Target(() => 10_000);
    let wokenAt: number | undefined;
    const waker = new Target(() => 50, (now) => {
      if (now >= 1_000 && wokenAt === undefined) {
        stall(700); // more than the wheel: this tick covers 64 slots
        wokenAt = scheduler.now();
        ticker.wake(sleeper);
      }
    });
    ticker.add(sleeper);
    ticker.add(waker);
    scheduler.flush();
    ticker.onApplicationShutdown();
    expect(wokenAt).toBeDefined();
    const after = sleeper.visits.filter((v) => v >= wokenAt!);
    expect(after.length).toBeGreaterThan(0);
    expect(after[0] - wokenAt!).toBeLessThanOrEqual(2 * TICK);
  });

  test('one timer drives every target, and none once the last is removed', () => {
    const { scheduler, ticker } = world(1_000);
    const a = new Target(() => 30);
    const b = new Target(() => 30);
    ticker.add(a);
    ticker.add(b);
    expect(scheduler.actions.length).toBe(1);
    ticker.remove(a);
    ticker.remove(b);
    expect(ticker.running).toBe(false);
    scheduler.flush();
    expect(a.visits.length + b.visits.length).toBe(0);
  });

  test('a visit that throws drops neither its target nor the others waiting in its slot', async () => {
    const reported: unknown[] = [];
    config.onUnhandledError = (error) => reported.push(error);
    try {
      const { scheduler, ticker } = world(2_000);
      let thrown = false;
      const thrower = new Target(() => 100, () => {
        if (thrown) return;
        thrown = true;
        throw new Error('a visit failed');
      });
      // Added together, so all wait in the same slot, the thrower first.
      const others = Array.from({ length: 5 }, () => new Target(() => 100));
      ticker.add(thrower);
      for (const t of others) ticker.add(t);
      scheduler.flush();
      ticker.onApplicationShutdown();
      for (const t of [thrower, ...others]) expect(t.visits.length).toBeGreaterThanOrEqual(15);
      await new Promise((resolve) => setTimeout(resolve, 20)); // RxJS reports a subscriber's throw on a timer
      expect(reported).toHaveLength(1);
    } finally {
      config.onUnhandledError = null;
    }
  });
});
