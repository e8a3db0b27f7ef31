import { FrameError } from '../errors/frame.error.js';
import * as messages from '../common/heartbeat.messages.js';

/** 4 GiB has 10 digits: a longer prefix is garbage, not a length. */
const MAX_PREFIX_DIGITS = 10;
const HASH = 0x23; // '#'
const ZERO = 0x30;
const NINE = 0x39;

/**
 * Splits Nest's `<length>#<json>` stream into parsed objects.
 *
 * Unlike Nest's JsonSocket it keeps a cursor instead of re-slicing the whole buffer after each
 * frame (many pipelined frames in one read stay linear), checks the prefix strictly (digits only,
 * refused as soon as it cannot become a valid length) and refuses an oversized frame from its
 * prefix, before buffering it. The prefix is read in one pass over its characters (no
 * intermediate strings, no regular expression).
 */
export class FrameDecoder {
  private pending = '';
  /** Length of the frame body being read; -1 while reading a prefix. */
  private expected = -1;

  constructor(private readonly maxFrameLength: number) {}

  /** Characters held for an incomplete frame. */
  get buffered(): number {
    return this.pending.length;
  }

  /** At a frame boundary: nothing held, no prefix read. */
  get idle(): boolean {
    return this.pending.length === 0 && this.expected < 0;
  }

  get maxLength(): number {
    return this.maxFrameLength;
  }

  /**
   * Feeds decoded text; calls `onFrame` (with `this` = `thisArg`) for each complete frame with its
   * encoded length. Throws FrameError on bad input.
   */
  push<T = undefined>(text: string, onFrame: (this: T, frame: Record<string, unknown>, length: number) => void, thisArg?: T): void {
    const buf = this.pending.length > 0 ? this.pending + text : text;
    const end = buf.length;
    let pos = 0;
    this.pending = '';
    for (;;) {
      if (this.expected < 0) {
        // <digits>#, at most MAX_PREFIX_DIGITS digits.
        let length = 0;
        let i = pos;
        for (; i < end; i++) {
          const c = buf.charCodeAt(i);
          if (c >= ZERO && c <= NINE) {
            if (i - pos >= MAX_PREFIX_DIGITS) throw badPrefix(buf, pos, i + 1);
            length = length * 10 + (c - ZERO);
          } else if (c === HASH && i > pos) {
            break;
          } else {
            throw badPrefix(buf, pos, i + 1);
          }
        }
        if (i === end) break; // prefix incomplete, digits so far are valid
        if (length > this.maxFrameLength) {
          throw new FrameError('too-large', messages.frameTooLarge(length, this.maxFrameLength));
        }
        this.expected = length;
        pos = i + 1;
      }
      if (end - pos < this.expected) break;
      const length = this.expected;
      const body = buf.slice(pos, pos + length);
      pos += length;
      this.expected = -1;
      onFrame.call(thisArg as T, parseBody(body), length + prefixLength(length));
    }
    this.pending = pos === 0 ? buf : pos < end ? buf.slice(pos) : '';
  }
}

function badPrefix(buf: string, from: number, to: number): FrameError {
  const prefix = buf.slice(from, Math.min(to, from + 16));
  return new FrameError('bad-length', messages.badLengthPrefix(prefix));
}

/** Characters of `<length>#` in front of a body of this length (as encoded, without leading zeros). */
function prefixLength(length: number): number {
  let digits = 1;
  while (length >= 10) {
    length = Math.floor(length / 10);
    digits++;
  }
  return digits + 1;
}

function parseBody(body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new FrameError('bad-json', messages.invalidJson((e as Error).message));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('not-object', messages.frameNotObject());
  }
  return value as Record<string, unknown>;
}

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

/**
 * The beats at the start of a chunk, read from its bytes without building strings or calling
 * JSON.parse: nearly every frame on an idle link is a ping or a pong, so this is the hot read
 * path (bench B2). Only the exact form `encodeControl` writes is taken (`{"$hb":"ping","seq":N,
 * "t":T[,"rtt":R]}` / `{"$hb":"pong","seq":N,"t":T}`, numbers of at most 16 digits, no exponent);
 * each is delivered as the object JSON.parse would have made of it. Returns how many bytes were
 * consumed: it stops at the first frame in any other form, or an incomplete one, and the rest
 * goes through FrameDecoder (so anything else, malformed input included, meets the same checks).
 */
export function readBeats<T>(
  chunk: Buffer, maxFrameLength: number, onFrame: (this: T, frame: Record<string, unknown>, length: number) => void, thisArg: T,
): number {
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
    // seq
    if (!readNumber(chunk, body + PING_HEAD.length, bodyEnd)) return pos;
    const seq = parsed;
    let at = parsedEnd;
    if (!startsWith(chunk, at, T_KEY) || !readNumber(chunk, at + T_KEY.length, bodyEnd)) return pos;
    const t = parsed;
    at = parsedEnd;
    let frame: Record<string, unknown>;
    if (at === bodyEnd - 1) {
      frame = isPing ? { $hb: 'ping', seq, t } : { $hb: 'pong', seq, t };
    } else {
      if (!isPing || !startsWith(chunk, at, RTT_KEY) || !readNumber(chunk, at + RTT_KEY.length, bodyEnd) || parsedEnd !== bodyEnd - 1) return pos;
      frame = { $hb: 'ping', seq, t, rtt: parsed };
    }
    const start = pos;
    pos = bodyEnd;
    onFrame.call(thisArg, frame, bodyEnd - start);
  }
  return pos;
}

/** readNumber's results (module state: no object per number on the hot path). */
let parsed = 0;
let parsedEnd = 0;

/**
 * A JSON number `-?(0|[1-9][0-9]*)(\.[0-9]+)?` at `start` with at most MAX_DIGITS digits, as
 * JSON.parse reads it: the digits as an exact integer divided by an exact power of ten is one
 * correctly rounded operation (Clinger's fast path). False for anything else.
 */
function readNumber(buf: Buffer, start: number, end: number): boolean {
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
  parsed = negative ? -value : value;
  parsedEnd = i;
  return true;
}

function startsWith(buf: Buffer, at: number, head: Buffer): boolean {
  if (at + head.length > buf.length) return false;
  for (let k = 0; k < head.length; k++) if (buf[at + k] !== head[k]) return false;
  return true;
}
