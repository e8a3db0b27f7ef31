import { FrameError } from '../../src/errors/frame.error.js';
import fc from 'fast-check';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { encodeControl, encodeFrame, isControlFrame, ping, pong } from '../../src/protocol/frames.js';

const collect = (decoder: FrameDecoder, ...chunks: string[]) => {
  const frames: unknown[] = [];
  for (const c of chunks) decoder.push(c, (f) => frames.push(f));
  return frames;
};

describe('FrameDecoder (Nest framing: <length>#<json>)', () => {
  it('encodes exactly like Nest JsonSocket, length in UTF-16 code units', () => {
    const packet = { pattern: 'echo', data: 'héllo ✓ 😀', id: '1' };
    const json = JSON.stringify(packet);
    expect(encodeFrame(packet)).toBe(`${json.length}#${json}`);
  });

  it('parses a frame split into 1-character writes', () => {
    const text = encodeFrame({ pattern: 'echo', data: { a: [1, 2, 3] }, id: 'x' });
    expect(collect(new FrameDecoder(1024), ...text.split(''))).toEqual([{ pattern: 'echo', data: { a: [1, 2, 3] }, id: 'x' }]);
  });

  it('parses many frames in one write, in order', () => {
    const frames = Array.from({ length: 1000 }, (_, i) => ({ pattern: 'n', data: i }));
    expect(collect(new FrameDecoder(1024), frames.map(encodeFrame).join(''))).toEqual(frames);
  });

  it('parses frames straddling chunk boundaries anywhere', () => {
    const text = [1, 2, 3].map((i) => encodeFrame({ i, s: 'x'.repeat(i * 7) })).join('');
    for (let cut = 1; cut < text.length; cut++) {
      expect(collect(new FrameDecoder(1024), text.slice(0, cut), text.slice(cut))).toHaveLength(3);
    }
  });

  it.each([
    ['garbage bytes', 'GET / HTTP/1.1\r\n', 'bad-length'],
    ['a non-numeric length', 'abc#{}', 'bad-length'],
    ['a length with a sign', '-5#{}', 'bad-length'],
    ['an empty length', '#{}', 'bad-length'],
    ['a prefix longer than any length', '12345678901', 'bad-length'],
    ['a length over maxFrameBytes', '1025#', 'too-large'],
    ['invalid JSON', '5#{abc}', 'bad-json'],
    ['a JSON value that is not an object', '5#[1,2]', 'not-object'],
    ['JSON null', '4#null', 'not-object'],
  ])('refuses %s', (_what, input, kind) => {
    const decoder = new FrameDecoder(1024);
    let error: unknown;
    try {
      decoder.push(input, () => undefined);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FrameError);
    expect((error as FrameError).kind).toBe(kind);
  });

  it('refuses an oversized frame from its prefix, before buffering the body', () => {
    const decoder = new FrameDecoder(1024);
    expect(() => decoder.push(`${10 * 1024 * 1024}#`, () => undefined)).toThrow(/exceeds maxFrameBytes/);
    expect(decoder.buffered).toBe(0);
  });

  it('delivers the good frames before a bad one', () => {
    const frames: unknown[] = [];
    expect(() => new FrameDecoder(1024).push(`${encodeFrame({ a: 1 })}xyz#`, (f) => frames.push(f))).toThrow(FrameError);
    expect(frames).toEqual([{ a: 1 }]);
  });

  it('tells control frames from Nest packets by the $hb key', () => {
    expect(isControlFrame(ping(1, 2))).toBe(true);
    expect(isControlFrame({ pattern: 'ping', data: { $hb: 'ping' } })).toBe(false);
    expect(isControlFrame({ id: '1', response: { $hb: 1 } })).toBe(false);
  });
});
