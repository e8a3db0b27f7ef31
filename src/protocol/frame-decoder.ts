import { FrameError } from '../errors/frame.error.js';
import * as messages from '../common/heartbeat.messages.js';

/** 4 GiB has 10 digits: a longer prefix is garbage, not a length. */
export const MAX_PREFIX_DIGITS = 10;
export const HASH = 0x23; // '#'
export const ZERO = 0x30;
export const NINE = 0x39;

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

  constructor(private maxFrameLength: number) {}

  /** A new frame limit, for the frames after the one being read. */
  setMaxLength(bytes: number): void {
    this.maxFrameLength = bytes;
  }

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
