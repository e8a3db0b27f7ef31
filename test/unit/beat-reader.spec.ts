import fc from 'fast-check';
import { BeatReader } from '../../src/protocol/beat-reader.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { beatFrame, encodeControl, encodeFrame, ping, pong } from '../../src/protocol/frames.js';

describe('BeatReader (pings and pongs read from bytes)', () => {
  /** What BeatReader delivers and how far it read, for a chunk given as text. */
  const read = (text: string) => {
    const frames: Array<{ frame: unknown; length: number }> = [];
    const used = new BeatReader().read(Buffer.from(text), 1024, {
      onBeat: (isPing, seq, t, rtt, length) => void frames.push({ frame: beatFrame(isPing, seq, t, rtt), length }),
    });
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
    expect(new BeatReader().read(Buffer.from(encodeControl(ping(1, 2))), 10, { onBeat: (...beat) => void frames.push(beat) })).toBe(0);
    expect(frames).toEqual([]);
  });
});
