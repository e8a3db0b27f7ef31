import { HASH, MAX_PREFIX_DIGITS, NINE, ZERO } from './frame-decoder.js';

const PING_HEAD = Buffer.from('{"$hb":"ping","seq":', 'latin1');
const PONG_HEAD = Buffer.from('{"$hb":"pong","seq":', 'latin1');
const T_KEY = Buffer.from(',"t":', 'latin1');
const RTT_KEY = Buffer.from(',"rtt":', 'latin1');
const CLOSE = 0x7d; // '}'
const MINUS = 0x2d;
const DOT = 0x2e;
/** 10^0 … 10^22 are exact doubles. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
/** At most 16 digits (an epoch time in ms to the microsecond has 16), and their integer below 2^53: exact as a double. */
const MAX_DIGITS = 16;

/** Where the beats read go. */
export interface BeatSink {
  /** One ping or pong of `length` bytes (its prefix included); `rtt` is NaN when a ping has none. */
  onBeat(isPing: boolean, seq: number, t: number, rtt: number, length: number): void;
}

/**
 * Reads the beats at the start of a chunk from its bytes, without building strings or calling
 * JSON.parse: nearly every frame on an idle link is a ping or a pong, so this is the hot read
 * path (bench B2). Only the exact form `encodeControl` writes is taken (`{"$hb":"ping","seq":N,
 * "t":T[,"rtt":R]}` / `{"$hb":"pong","seq":N,"t":T}`, numbers of at most 16 digits, no exponent);
 * each is delivered as its numbers, the values JSON.parse would have read (no object per beat).
 * Anything else, malformed input included, is left to FrameDecoder and meets its checks.
 *
 * One reader serves every socket of a server or client (it keeps only the number it just read:
 * no object per number on the hot path).
 */
export class BeatReader {
  /** readNumber's result. */
  private value = 0;
  private end = 0;

  /**
   * Gives `sink` each beat at the start of `chunk`; returns how many bytes were consumed.
   * Stops at the first frame in any other form, or an incomplete one.
   */
  read(chunk: Buffer, maxFrameLength: number, sink: BeatSink): number {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      // <digits>#
      let length = 0;
      let i = pos;
      for (; i < end && i - pos < MAX_PREFIX_DIGITS; i++) {
        const c = chunk[i];
        if (c < ZERO || c > NINE) break;
        length = length * 10 + (c - ZERO);
      }
      if (i === pos || i >= end || chunk[i] !== HASH || chunk[pos] === ZERO || length > maxFrameLength) return pos;
      const body = i + 1;
      const bodyEnd = body + length;
      if (bodyEnd > end || chunk[bodyEnd - 1] !== CLOSE) return pos;
      const isPing = startsWith(chunk, body, PING_HEAD);
      if (!isPing && !startsWith(chunk, body, PONG_HEAD)) return pos;
      if (!this.readNumber(chunk, body + PING_HEAD.length, bodyEnd)) return pos;
      const seq = this.value;
      let at = this.end;
      if (!startsWith(chunk, at, T_KEY) || !this.readNumber(chunk, at + T_KEY.length, bodyEnd)) return pos;
      const t = this.value;
      at = this.end;
      let rtt = NaN;
      if (at !== bodyEnd - 1) {
        if (!isPing || !startsWith(chunk, at, RTT_KEY) || !this.readNumber(chunk, at + RTT_KEY.length, bodyEnd) || this.end !== bodyEnd - 1) return pos;
        rtt = this.value;
      }
      const start = pos;
      pos = bodyEnd;
      sink.onBeat(isPing, seq, t, rtt, bodyEnd - start);
    }
    return pos;
  }

  /**
   * A JSON number `-?(0|[1-9][0-9]*)(\.[0-9]+)?` at `start` with at most MAX_DIGITS digits, as
   * JSON.parse reads it: the digits as an exact integer divided by an exact power of ten is one
   * correctly rounded operation (Clinger's fast path). False for anything else.
   */
  private readNumber(buf: Buffer, start: number, end: number): boolean {
    let i = start;
    const negative = buf[i] === MINUS;
    if (negative) i++;
    const first = i;
    let mantissa = 0;
    let digits = 0;
    let fraction = -1;
    for (; i < end; i++) {
      const c = buf[i];
      if (c >= ZERO && c <= NINE) {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        if (fraction >= 0) fraction++;
      } else if (c === DOT && fraction < 0 && i > first) {
        fraction = 0;
      } else {
        break;
      }
    }
    if (digits === 0 || digits > MAX_DIGITS || mantissa > Number.MAX_SAFE_INTEGER || fraction === 0) return false;
    // No leading zeros ("01"), as JSON.
    if (buf[first] === ZERO && i > first + 1 && buf[first + 1] !== DOT) return false;
    const value = fraction > 0 ? mantissa / POW10[fraction] : mantissa;
    this.value = negative ? -value : value;
    this.end = i;
    return true;
  }
}

function startsWith(buf: Buffer, at: number, head: Buffer): boolean {
  if (at + head.length > buf.length) return false;
  for (let k = 0; k < head.length; k++) if (buf[at + k] !== head[k]) return false;
  return true;
}
