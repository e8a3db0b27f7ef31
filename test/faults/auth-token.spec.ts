/**
 * Fault lab (issue 4): the auth token check is constant-time by construction. Timing itself is
 * not measured (too noisy to prove anything); the behaviour that makes it constant-time is:
 * every comparison goes through crypto.timingSafeEqual, on inputs of one fixed length whatever
 * the presented token's length, and it never throws on odd input.
 */
import { jest } from '@jest/globals';

const realCrypto = await import('node:crypto');
const timingSafeEqual = jest.fn(realCrypto.timingSafeEqual);
jest.unstable_mockModule('node:crypto', () => ({ ...realCrypto, default: realCrypto, timingSafeEqual }));
const { tokenMatches } = await import('../../src/link/authenticator.js');

beforeEach(() => timingSafeEqual.mockClear());

test('every comparison goes through timingSafeEqual, on equal-length inputs, whatever was presented', () => {
  const expected = 'the-right-token-0123456789';
  const presented: Array<[unknown, boolean]> = [
    [expected, true],
    ['the-wrong-token-0123456789', false], // same length
    [`${expected.slice(0, -1)}X`, false], // one byte off at the end
    [`X${expected.slice(1)}`, false], // one byte off at the start
    [expected.slice(0, 5), false], // a prefix
    [`${expected}-and-more`, false], // longer
    ['', false],
    ['x'.repeat(100_000), false],
  ];
  for (const [token, ok] of presented) {
    expect(tokenMatches(expected, token)).toBe(ok);
  }
  expect(timingSafeEqual).toHaveBeenCalledTimes(presented.length);
  const lengths = new Set(timingSafeEqual.mock.calls.flatMap(([a, b]) => [(a as Buffer).length, (b as Buffer).length]));
  expect([...lengths]).toEqual([32]); // digests: the presented token's length changes nothing compared
}, 5_000);

test('non-string tokens are refused without comparing and without throwing', () => {
  for (const token of [undefined, null, 12345, { length: 3 }, ['a'], Buffer.from('the-right-token')]) {
    expect(tokenMatches('the-right-token', token)).toBe(false);
  }
  expect(timingSafeEqual).not.toHaveBeenCalled();
}, 5_000);
