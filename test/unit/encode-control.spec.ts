import { BYE, encodeControl, encodeFrame, goAway, ping, pong, reject, welcome, type ControlFrame } from '../../src/protocol/frames.js';

// encodeControl builds ping/pong/bye from templates for speed (bench B2); the bytes must be
// exactly what JSON.stringify framing writes, or a peer would read something else.
describe('encodeControl', () => {
  const numbers = [0, 1, 7, 42, 1e3, 2 ** 31, Number.MAX_SAFE_INTEGER, 1e21, 1.5e-7, -0, 0.1 + 0.2, 1796190667320.1234, 12.345];
  const frames: ControlFrame[] = [BYE, goAway('too-many-pings'), reject('auth-failed', 'no "token"'), welcome('server', 'inc1', { a: 'b' }, 100)];
  for (const seq of numbers) {
    for (const t of numbers) {
      frames.push(ping(seq, t), ping(seq, t, t), pong({ $hb: 'ping', seq, t }));
    }
  }

  it('writes the same bytes as encodeFrame for every control frame', () => {
    for (const frame of frames) expect(encodeControl(frame)).toBe(encodeFrame(frame));
  });
});
