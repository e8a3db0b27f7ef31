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

  it('prints ping times and RTTs as JSON.stringify does (one text per tick, RTTs from integers), at random', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (let i = 0; i < 20_000; i++) {
      const t = 1.7e12 + random() * 1e11;
      const rtt = [random() * 2, random() * 5000, Math.floor(random() * 100), random() * 3e6, random() * 1e-3][i % 5];
      const frame = ping(i, t, rtt);
      expect(encodeControl(frame)).toBe(encodeFrame(frame));
      expect(encodeControl(ping(i + 1, t, rtt / 3))).toBe(encodeFrame(ping(i + 1, t, rtt / 3))); // the same t twice: the cached text
    }
  });

  it('writes the same bytes as encodeFrame for every control frame', () => {
    for (const frame of frames) expect(encodeControl(frame)).toBe(encodeFrame(frame));
  });
});
