/** Why a byte stream was refused; the link closes with `protocol-error`. */
export class FrameError extends Error {
  constructor(readonly kind: 'bad-length' | 'too-large' | 'bad-json' | 'not-object', message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** 4 GiB has 10 digits: a longer prefix is garbage, not a length. */
const MAX_PREFIX_DIGITS = 10;
const DIGITS = /^[0-9]+$/;

/**
 * Splits Nest's `<length>#<json>` stream into parsed objects.
 *
 * Unlike Nest's JsonSocket it keeps a cursor instead of re-slicing the whole buffer after each
 * frame (many pipelined frames in one read stay linear), checks the prefix strictly (digits only,
 * refused as soon as it cannot become a valid length) and refuses an oversized frame from its
 * prefix, before buffering it.
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

  /** Feeds decoded text; calls `onFrame` for each complete frame with its encoded length. Throws FrameError on bad input. */
  push(text: string, onFrame: (frame: Record<string, unknown>, length: number) => void): void {
    const buf = this.pending.length > 0 ? this.pending + text : text;
    let pos = 0;
    this.pending = '';
    for (;;) {
      if (this.expected < 0) {
        const hash = buf.indexOf('#', pos);
        if (hash === -1) {
          const rest = buf.length - pos;
          if (rest > MAX_PREFIX_DIGITS || (rest > 0 && !DIGITS.test(buf.slice(pos)))) {
            throw new FrameError('bad-length', `bad length prefix ${JSON.stringify(buf.slice(pos, pos + 16))}`);
          }
          break;
        }
        const prefix = buf.slice(pos, hash);
        if (prefix.length === 0 || prefix.length > MAX_PREFIX_DIGITS || !DIGITS.test(prefix)) {
          throw new FrameError('bad-length', `bad length prefix ${JSON.stringify(prefix.slice(0, 16))}`);
        }
        const length = Number(prefix);
        if (length > this.maxFrameLength) {
          throw new FrameError('too-large', `frame of ${length} exceeds maxFrameBytes ${this.maxFrameLength}`);
        }
        this.expected = length;
        pos = hash + 1;
      }
      if (buf.length - pos < this.expected) break;
      const body = buf.slice(pos, pos + this.expected);
      pos += this.expected;
      this.expected = -1;
      onFrame(parseBody(body), body.length + prefixLength(body.length));
    }
    this.pending = pos === 0 ? buf : pos < buf.length ? buf.slice(pos) : '';
  }
}

function parseBody(body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new FrameError('bad-json', `invalid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('not-object', 'frame is not a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Characters of `<length>#` in front of a body of this length. */
function prefixLength(bodyLength: number): number {
  return String(bodyLength).length + 1;
}
