/**
 * The heartbeat wire protocol (see docs/PROTOCOL.md).
 *
 * Frames use Nest's TCP framing, `<length>#<json>`, so data frames are exactly what a stock
 * ClientTCP/ServerTCP sends. A control frame is a JSON object with the key `$hb`, which no Nest
 * packet (`pattern`, `data`, `id`, `metadata`, `response`, `err`, `isDisposed`) ever carries.
 */
export const PROTOCOL_VERSION = 1;
export const CONTROL_KEY = '$hb';

/**
 * Client → server, first frame on a link. `inc`: the sender's incarnation, random per process
 * start: one nodeId and one incarnation are one peer; a new incarnation replaces the old one.
 * `caps`: optional frames the sender understands (`drain`), so a server never sends them to an
 * older client.
 */
export interface HelloFrame { $hb: 'hello'; v: number; id: string; inc?: string; meta: Record<string, string>; token?: string; caps?: string[] }
/** Server → client, the handshake accepted. `minPing`: the fastest the client may ping, in ms. */
export interface WelcomeFrame { $hb: 'welcome'; v: number; id: string; inc?: string; meta: Record<string, string>; minPing?: number }
/** Server → client, the handshake refused; the server closes right after. */
export interface RejectFrame { $hb: 'reject'; reason: 'auth-failed' | 'protocol-error' | 'superseded'; message: string }
/**
 * Either way, sent when nothing else was sent for one interval. `rtt` is the sender's smoothed
 * RTT, so the side that only answers (its pongs keep it from ever being idle) knows it too.
 */
export interface PingFrame { $hb: 'ping'; seq: number; t: number; rtt?: number }
/** Answer to a ping, at once, echoing its seq and t. */
export interface PongFrame { $hb: 'pong'; seq: number; t: number }
/**
 * Either way, on graceful shutdown: the sender closes right after. With `reason`, the sender is
 * closing the link on the receiver (HTTP/2's GOAWAY): a loss, not a departure.
 */
export interface ByeFrame { $hb: 'bye'; reason?: 'too-many-pings' }
/**
 * Server → client, when the server begins a graceful shutdown (gRPC's GOAWAY before its calls
 * finish): send no new request on this link; the replies to those in flight still come, then a
 * `bye`. Sent only to clients whose hello listed `drain` in `caps`.
 */
export interface DrainFrame { $hb: 'drain' }
/**
 * Client → server, the answer to `drain`, at once: nothing new follows on this link. TCP keeps
 * order, so once the server reads it every request of the link has arrived, and it can say
 * goodbye as soon as their replies are out.
 */
export interface DrainedFrame { $hb: 'drained' }

/** The optional frames this implementation understands, announced in its hello. */
export const CAPABILITIES: readonly string[] = ['drain'];

export type ControlFrame = HelloFrame | WelcomeFrame | RejectFrame | PingFrame | PongFrame | ByeFrame | DrainFrame | DrainedFrame;
export type Frame = ControlFrame | Record<string, unknown>;

export function isControlFrame(frame: object): frame is ControlFrame {
  return CONTROL_KEY in frame;
}

export const hello = (id: string, inc: string, meta: Record<string, string>, token?: string): HelloFrame =>
  token === undefined ? { $hb: 'hello', v: PROTOCOL_VERSION, id, inc, meta, caps: [...CAPABILITIES] }
    : { $hb: 'hello', v: PROTOCOL_VERSION, id, inc, meta, token, caps: [...CAPABILITIES] };
export const welcome = (id: string, inc: string, meta: Record<string, string>, minPing?: number): WelcomeFrame =>
  minPing === undefined ? { $hb: 'welcome', v: PROTOCOL_VERSION, id, inc, meta } : { $hb: 'welcome', v: PROTOCOL_VERSION, id, inc, meta, minPing };
export const reject = (reason: RejectFrame['reason'], message: string): RejectFrame => ({ $hb: 'reject', reason, message });
/** Times and RTTs to the microsecond: at most 16 digits, so the peer's pong is read on the fast path (readBeats). */
const micros = (ms: number) => Math.round(ms * 1000) / 1000;
export const ping = (seq: number, t: number, rtt?: number): PingFrame =>
  rtt === undefined ? { $hb: 'ping', seq, t: micros(t) } : { $hb: 'ping', seq, t: micros(t), rtt: micros(rtt) };
export const pong = (p: PingFrame): PongFrame => ({ $hb: 'pong', seq: p.seq, t: p.t });
/**
 * The object JSON.parse makes of a ping or pong that was read as numbers (BeatReader), for the
 * paths that take frames; `rtt` is NaN when the ping had none.
 */
export const beatFrame = (isPing: boolean, seq: number, t: number, rtt: number): Record<string, unknown> =>
  !isPing ? { $hb: 'pong', seq, t } : Number.isNaN(rtt) ? { $hb: 'ping', seq, t } : { $hb: 'ping', seq, t, rtt };
export const BYE: ByeFrame = Object.freeze({ $hb: 'bye' }) as ByeFrame;
export const goAway = (reason: NonNullable<ByeFrame['reason']>): ByeFrame => ({ $hb: 'bye', reason });
export const DRAIN: DrainFrame = Object.freeze({ $hb: 'drain' }) as DrainFrame;
export const DRAINED: DrainedFrame = Object.freeze({ $hb: 'drained' }) as DrainedFrame;

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Limits on what a peer says about itself (docs/PROTOCOL.md, "hello"); our own options obey them too. */
export const MAX_NODE_ID_LENGTH = 256;
export const MAX_METADATA_KEYS = 64;
export const MAX_METADATA_BYTES = 4096;

/** No control, format, surrogate or unassigned characters: a nodeId is shown in logs and dashboards. */
const PRINTABLE = /^[^\p{C}]+$/u;

/** What is wrong with a nodeId, or undefined when it is acceptable. */
export function nodeIdProblem(id: unknown): string | undefined {
  if (typeof id !== 'string' || id.length === 0) return 'must be a non-empty string';
  if (id.length > MAX_NODE_ID_LENGTH) return `must be at most ${MAX_NODE_ID_LENGTH} characters`;
  if (!PRINTABLE.test(id)) return 'must contain printable characters only';
  return undefined;
}

/** What is wrong with a metadata map, or undefined when it is acceptable. `undefined` is an empty map. */
export function metadataProblem(meta: unknown): string | undefined {
  if (meta === undefined) return undefined;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return 'must be an object of string values';
  const entries = Object.entries(meta);
  if (entries.length > MAX_METADATA_KEYS) return `must have at most ${MAX_METADATA_KEYS} keys`;
  let bytes = 0;
  for (const [key, value] of entries) {
    if (typeof value !== 'string') return 'must be an object of string values';
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes > MAX_METADATA_BYTES) return `must be at most ${MAX_METADATA_BYTES} bytes of keys and values in all`;
  return undefined;
}

/** Why a hello or welcome is malformed (identity fields, types, limits), or undefined when it is well formed. */
export function identityFrameProblem(f: HelloFrame | WelcomeFrame): string | undefined {
  const idProblem = nodeIdProblem(f.id);
  if (idProblem) return `nodeId ${idProblem}`;
  const metaProblem = metadataProblem(f.meta);
  if (metaProblem) return `metadata ${metaProblem}`;
  if (f.$hb === 'hello' && f.token !== undefined && typeof f.token !== 'string') return 'token must be a string';
  if (f.inc !== undefined && (typeof f.inc !== 'string' || f.inc.length > 64)) return 'incarnation must be a string of at most 64 characters';
  if (f.$hb === 'hello' && f.caps !== undefined && !(Array.isArray(f.caps) && f.caps.length <= 16 && f.caps.every((c) => typeof c === 'string' && c.length <= 32))) {
    return 'caps must be a list of at most 16 short strings';
  }
  if (f.$hb === 'welcome' && f.minPing !== undefined && !(isFiniteNumber(f.minPing) && f.minPing >= 0)) return 'minPing must be a number >= 0';
  return undefined;
}

/** A ping or pong is well formed when `seq` and `t` are finite numbers (and `rtt`, when present, one ≥ 0). */
export function isValidBeat(f: PingFrame | PongFrame): boolean {
  return isFiniteNumber(f.seq) && isFiniteNumber(f.t)
    && (f.$hb === 'pong' || (f as PingFrame).rtt === undefined || (isFiniteNumber((f as PingFrame).rtt) && (f as PingFrame).rtt! >= 0));
}

const BYE_ENCODED = encodeFrame(BYE);

/**
 * A control frame as `encodeFrame` writes it. Ping and pong (nearly every frame on an idle link)
 * are built from a template instead of going through JSON.stringify: their fields are finite
 * numbers (checked on receipt, ours by construction), which print the same either way.
 */
export function encodeControl(frame: ControlFrame): string {
  switch (frame.$hb) {
    case 'pong':
      return encodePong(frame.seq, frame.t);
    case 'ping':
      return encodePing(frame.seq, frame.t, frame.rtt ?? NaN);
    case 'bye':
      return frame === BYE ? BYE_ENCODED : encodeFrame(frame);
    default:
      return encodeFrame(frame);
  }
}

/** `pong(…)` encoded, from the numbers: no frame object per pong (bench B2). */
export function encodePong(seq: number, t: number): string {
  const json = `{"$hb":"pong","seq":${seq},"t":${t}}`;
  return `${json.length}#${json}`;
}

/** `ping(seq, t, rtt)` encoded (`rtt` NaN: none), from the numbers: no frame object per ping. */
export function encodePing(seq: number, t: number, rtt: number): string {
  const json = Number.isNaN(rtt)
    ? `{"$hb":"ping","seq":${seq},"t":${timeText(micros(t))}}`
    : `{"$hb":"ping","seq":${seq},"t":${timeText(micros(t))},"rtt":${millisText(micros(rtt))}}`;
  return `${json.length}#${json}`;
}

/*
 * Number → text for pings without a double-to-string conversion per ping (bench B2): every ping
 * of one tick carries the same time, so it is formatted once per tick; an RTT (to the
 * microsecond, below 2^31 µs) is printed from integers. Same text as String(n) for such numbers.
 */
let lastTime = NaN;
let lastTimeText = '';
function timeText(t: number): string {
  if (t !== lastTime) {
    lastTime = t;
    lastTimeText = String(t);
  }
  return lastTimeText;
}
/** `.001` … `.999` without trailing zeros, '' for 0. */
const FRACTIONS = Array.from({ length: 1000 }, (_, k) => (k === 0 ? '' : `.${String(k).padStart(3, '0').replace(/0+$/, '')}`));
function millisText(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!(us >= 0 && us < 2 ** 31) || us / 1000 !== ms) return String(ms);
  const whole = (us / 1000) | 0;
  return `${whole}${FRACTIONS[us - whole * 1000]}`;
}

/** `<length>#<json>` where length counts UTF-16 code units, as Nest's JsonSocket does. */
export function encodeFrame(frame: object): string {
  const json = JSON.stringify(frame);
  return `${json.length}#${json}`;
}
