import { jest } from '@jest/globals';
import { LimitedLog } from '../../src/common/limited-log.js';

describe('LimitedLog (peer-caused log lines, per kind)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  function setup() {
    const lines: Array<[string, string]> = [];
    const logger = { log: (m: string) => void lines.push(['log', m]), warn: (m: string) => void lines.push(['warn', m]), error: (m: string) => void lines.push(['error', m]) };
    let now = 0;
    const log = new LimitedLog(logger, 3, 1000, () => now);
    return { lines, log, at: (t: number) => { jest.advanceTimersByTime(t - now); now = t; } };
  }

  it('writes at most perWindow lines of a kind, then one summary of what it dropped when the window ends', () => {
    const { lines, log, at } = setup();
    for (let i = 0; i < 10; i++) log.warn('protocol-error', `bad ${i}`);
    expect(lines).toEqual([['warn', 'bad 0'], ['warn', 'bad 1'], ['warn', 'bad 2']]);
    at(999);
    expect(lines).toHaveLength(3);
    at(1000); // the window ends with no new line: the summary still comes
    expect(lines[3]).toEqual(['warn', expect.stringMatching(/^7 more "protocol-error" lines in the last 1 s not logged/)]);
    log.warn('protocol-error', 'bad again');
    expect(lines[4]).toEqual(['warn', 'bad again']);
  });

  it('counts each kind on its own, and says nothing when nothing was dropped', () => {
    const { lines, log, at } = setup();
    for (let i = 0; i < 5; i++) log.warn('auth-failed', `a${i}`);
    log.log('joined', 'j0');
    at(1500);
    log.error('tls', 't0');
    expect(lines.map(([, m]) => m)).toEqual(['a0', 'a1', 'a2', 'j0', expect.stringMatching(/^2 more "auth-failed" lines/), 't0']);
  });
});
