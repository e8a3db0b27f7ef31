import { backoffDelay } from '../../src/transport/backoff.js';

describe('reconnect backoff', () => {
  const o = { initialDelayMs: 200, maxDelayMs: 5000, factor: 2, jitter: 0.2 };

  it('grows exponentially and caps at maxDelayMs', () => {
    const mid = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 4, 5, 10].map((a) => backoffDelay(a, o, mid))).toEqual([200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  it('spreads by ± jitter and never exceeds the cap', () => {
    expect(backoffDelay(0, o, () => 0)).toBe(160);
    expect(backoffDelay(0, o, () => 1)).toBe(240);
    expect(backoffDelay(20, o, () => 1)).toBe(5000);
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelay(3, o);
      expect(d).toBeGreaterThanOrEqual(1280);
      expect(d).toBeLessThanOrEqual(1920);
    }
  });
});
