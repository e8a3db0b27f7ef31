/**
 * The heartbeat wire protocol (see docs/PROTOCOL.md).
 *
 * Frames use Nest's TCP framing, `<length>#<json>`, so data frames are exactly what a stock
 * ClientTCP/ServerTCP sends. A control frame is a JSON object with the key `$hb`, which no Nest
 * packet (`pattern`, `data`, `id`, `metadata`, `response`, `err`, `isDisposed`) ever carries.
 */
export const PROTOCOL_VERSION = 1;
export const CONTROL_KEY = '$hb';

/** Client → server, first frame on a link. */
export interface HelloFrame { $hb: 'hello'; v: number; id: string; meta: Record<string, string>; token?: string }
/** Server → client, the handshake accepted. */
export interface WelcomeFrame { $hb: 'welcome'; v: number; id: string; meta: Record<string, string> }
/** Server → client, the handshake refused; the server closes right after. */
export interface RejectFrame { $hb: 'reject'; reason: 'auth-failed' | 'protocol-error'; message: string }
/**
 * Either way, sent when nothing else was sent for one interval. `rtt` is the sender's smoothed
 * RTT, so the side that only answers (its pongs keep it from ever being idle) knows it too.
 */
export interface PingFrame { $hb: 'ping'; seq: number; t: number; rtt?: number }
/** Answer to a ping, at once, echoing its seq and t. */
export interface PongFrame { $hb: 'pong'; seq: number; t: number }
/** Either way, on graceful shutdown: the sender closes right after. */
export interface ByeFrame { $hb: 'bye' }

export type ControlFrame = HelloFrame | WelcomeFrame | RejectFrame | PingFrame | PongFrame | ByeFrame;
export type Frame = ControlFrame | Record<string, unknown>;

export function isControlFrame(frame: object): frame is ControlFrame {
  return CONTROL_KEY in frame;
}

export const hello = (id: string, meta: Record<string, string>, token?: string): HelloFrame =>
  token === undefined ? { $hb: 'hello', v: PROTOCOL_VERSION, id, meta } : { $hb: 'hello', v: PROTOCOL_VERSION, id, meta, token };
export const welcome = (id: string, meta: Record<string, string>): WelcomeFrame => ({ $hb: 'welcome', v: PROTOCOL_VERSION, id, meta });
export const reject = (reason: RejectFrame['reason'], message: string): RejectFrame => ({ $hb: 'reject', reason, message });
export const ping = (seq: number, t: number, rtt?: number): PingFrame =>
  rtt === undefined ? { $hb: 'ping', seq, t } : { $hb: 'ping', seq, t, rtt: Math.round(rtt * 1000) / 1000 };
export const pong = (p: PingFrame): PongFrame => ({ $hb: 'pong', seq: p.seq, t: p.t });
export const BYE: ByeFrame = Object.freeze({ $hb: 'bye' }) as ByeFrame;

/** A hello is well formed when its identity fields have the right types. */
export function isValidHello(f: ControlFrame): f is HelloFrame {
  const h = f as HelloFrame;
  return h.$hb === 'hello' && typeof h.id === 'string' && h.id.length > 0 && h.id.length <= 256
    && (h.meta === undefined || (typeof h.meta === 'object' && h.meta !== null && !Array.isArray(h.meta)))
    && (h.token === undefined || typeof h.token === 'string');
}

/** `<length>#<json>` where length counts UTF-16 code units, as Nest's JsonSocket does. */
export function encodeFrame(frame: object): string {
  const json = JSON.stringify(frame);
  return `${json.length}#${json}`;
}
