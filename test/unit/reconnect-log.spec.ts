import { backoffDelay } from '../../src/transport/backoff.js';
import { ReconnectLog } from '../../src/transport/reconnect-log.js';

/** The client's connection log as a pure state machine, over the default backoff schedule. */
const reconnect = { initialDelayMs: 200, maxDelayMs: 5000, factor: 2, jitter: 0.2 };

/** Feeds a link loss and `outageMs` of refused attempts; returns every line logged and the attempts made. */
function outage(outageMs: number, cause: string) {
  const log = new ReconnectLog('10.0.0.1:3000', reconnect);
  const lines = [log.connected('srv', 0)];
  const lostAt = 1000;
  let attempt = 0;
  let delay = backoffDelay(attempt++, reconnect);
  lines.push(log.linkClosed('srv', cause, delay, lostAt));
  let t = lostAt;
  let attempts = 0;
  for (;;) {
    t += delay;
    attempts++;
    if (t >= lostAt + outageMs) break; // the server is back: this attempt succeeds
    delay = backoffDelay(attempt, reconnect);
    const line = log.attemptFailed('ECONNREFUSED', attempt++, delay, t);
    if (line) lines.push(line);
  }
  lines.push(log.connected('srv', t));
  return { lines, attempts };
}

describe('ReconnectLog', () => {
  it('a 30 s outage with the default backoff: four lines, however many attempts', () => {
    const { lines, attempts } = outage(30_000, 'closed-without-goodbye');
    expect(attempts).toBeGreaterThanOrEqual(9);
    expect(lines.map((l) => l.level)).toEqual(['log', 'warn', 'warn', 'log']);
    expect(lines[0].message).toBe('connected to "srv" at 10.0.0.1:3000');
    expect(lines[1].message).toMatch(/^lost "srv" at 10\.0\.0\.1:3000 \(closed-without-goodbye\); reconnecting in \d+ ms$/);
    expect(lines[2].message).toBe('still cannot reach 10.0.0.1:3000 after 5 attempts (ECONNREFUSED); retrying every 5000 ms');
    expect(lines[3].message).toMatch(new RegExp(`^reconnected to "srv" at 10\\.0\\.0\\.1:3000 after ${attempts} attempts \\(3\\d\\.\\d s down\\)$`));
  });

  it('a blip shorter than the first delay: lost, then reconnected after 1 attempt', () => {
    const { lines } = outage(100, 'connection-reset');
    expect(lines.map((l) => l.message)).toEqual([
      'connected to "srv" at 10.0.0.1:3000',
      expect.stringMatching(/^lost "srv" at 10\.0\.0\.1:3000 \(connection-reset\); reconnecting in \d+ ms$/),
      expect.stringMatching(/^reconnected to "srv" at 10\.0\.0\.1:3000 after 1 attempt \(0\.\d s down\)$/),
    ]);
  });

  it('leaves out a reason the link already logged, and reports a goodbye at log level', () => {
    const log = new ReconnectLog('h:1', reconnect);
    log.connected('srv', 0);
    expect(log.linkClosed('srv', 'heartbeat-timeout', 200, 10)).toEqual({ level: 'warn', message: 'lost "srv" at h:1; reconnecting in 200 ms' });
    expect(log.linkClosed('srv', 'goodbye', 200, 20)).toEqual({ level: 'log', message: '"srv" at h:1 left (said goodbye); reconnecting in 200 ms' });
  });

  it('with a constant delay (factor 1), the first failure says the interval and no later attempt adds a line', () => {
    const log = new ReconnectLog('h:1', { ...reconnect, factor: 1, maxDelayMs: 200 });
    expect(log.attemptFailed('ECONNREFUSED', 0, 200, 0)?.message).toBe('cannot reach h:1 (ECONNREFUSED); retrying in 200 ms');
    for (let a = 1; a < 20; a++) expect(log.attemptFailed('ECONNREFUSED', a, 200, 200 * a)).toBeUndefined();
  });
});
