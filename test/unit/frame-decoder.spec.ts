import { FrameError } from '../../src/errors/frame.error.js';
import fc from 'fast-check';
import { FrameDecoder, readBeats } from '../../src/protocol/frame-decoder.js';
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

describe('readBeats (pings and pongs read from bytes)', () => {
  /** What readBeats delivers and how far it read, for a chunk given as text. */
  const read = (text: string) => {
    const frames: Array<{ frame: unknown; length: number }> = [];
    const used = readBeats(Buffer.from(text), 1024, (frame, length) => frames.push({ frame, length }), undefined);
    return { used, frames };
  };
  /** What the generic decoder delivers for the same text. */
  const generic = (text: string) => {
    const frames: Array<{ frame: unknown; length: number }> = [];
    new FrameDecoder(1024).push(text, (frame, length) => frames.push({ frame, length }));
    return frames;
  };
  const time = fc.oneof(
    fc.double({ min: 0, max: 4e12, noNaN: true }),
    fc.double({ min: 0, max: 4e12, noNaN: true }).map((t) => Math.round(t * 1000) / 1000),
    fc.integer({ min: -1e6, max: 2 ** 53 - 1 }),
  );

  it('reads every ping and pong as we encode them exactly as JSON.parse would, or leaves it to the decoder', () => {
    let fast = 0;
    fc.assert(fc.property(fc.nat(), time, fc.option(time, { nil: undefined }), fc.boolean(), (seq, t, rtt, isPong) => {
      const frame = isPong ? pong({ $hb: 'ping', seq, t }) : { $hb: 'ping' as const, seq, t, ...(rtt === undefined ? {} : { rtt }) };
      const text = encodeControl(frame);
      const { used, frames } = read(text);
      if (used === 0) return; // a number outside the fast path (too many digits, an exponent): the decoder reads it
      fast++;
      expect(used).toBe(Buffer.byteLength(text));
      expect(frames).toEqual(generic(text));
      for (const key of ['seq', 't', 'rtt'] as const) {
        expect(Object.is((frames[0].frame as Record<string, unknown>)[key], (generic(text)[0].frame as Record<string, unknown>)[key])).toBe(true);
      }
    }), { numRuns: 2000 });
    expect(fast).toBeGreaterThan(600); // the property is about the fast path: most cases must take it
  });

  it('takes our own pings and their pongs on the fast path (times to the microsecond)', () => {
    const now = performance.timeOrigin + performance.now();
    const p = ping(7, now, 0.123456);
    for (const text of [encodeControl(p), encodeControl(pong(p)), encodeControl(ping(8, Date.now()))]) {
      expect(read(text).used).toBe(text.length);
    }
  });

  it('stops at the first frame in any other form, so the decoder sees it', () => {
    const beat = encodeControl(pong({ $hb: 'ping', seq: 1, t: 2.5 }));
    const data = encodeFrame({ pattern: 'echo', data: 1, id: 'x' });
    expect(read(beat + beat + data + beat)).toMatchObject({ used: 2 * beat.length });
    for (const other of [
      '34#{"$hb":"ping","seq":01,"t":2.5}', // leading zero: not JSON
      '35#{"$hb":"ping","seq":1,"t":2.5e3}', // exponent
      '33#{"$hb":"ping", "seq":1,"t":2.5}', // whitespace
      '40#{"$hb":"ping","seq":1,"t":2.5,"x":1}', // another key
      '32#{"$hb":"pong","seq":1,"t":2.}', // no fraction digits
      '38#{"$hb":"pong","seq":1,"t":2.5,"rtt":1}', // rtt on a pong
      '33#{"$hb":"bye","seq":1,"t":2.5}x', // not a beat
      '26#{"$hb":"ping","seq":1,"t":', // incomplete
      '99999999999#', // a prefix too long for a length
      beat.slice(0, -1), // incomplete by one byte
    ]) {
      expect(read(other).used).toBe(0);
    }
  });

  it('leaves an oversized frame to the decoder, which refuses it', () => {
    const frames: unknown[] = [];
    expect(readBeats(Buffer.from(encodeControl(ping(1, 2))), 10, (f) => frames.push(f), undefined)).toBe(0);
    expect(frames).toEqual([]);
  });
});
