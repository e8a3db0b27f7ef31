import { TcpSocket } from '@nestjs/microservices';
import type { Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { HANDSHAKE_MAX_FRAME_BYTES } from '../common/heartbeat.constants.js';
import { StringDecoder } from 'node:string_decoder';
import { adoptSocket, failFraming, LISTENER_SINK, markClosed } from '../nest/tcp-internals.js';
import { BeatReader, type BeatSink } from './beat-reader.js';
import { FrameDecoder } from './frame-decoder.js';
import { beatFrame, encodeControl, encodeFrame, encodePing, encodePong, type ControlFrame } from './frames.js';

/** What the socket reports to the link that owns it. */
export interface FrameListener {
  /** Every frame received but the beats read as numbers; return `true` to hand it to Nest as a data message. */
  onFrame(frame: Record<string, unknown>, length: number): boolean;
  /** A ping or pong read from the bytes as its numbers (`rtt` NaN when none): the hot path, no frame object. */
  onBeat(isPing: boolean, seq: number, t: number, rtt: number, length: number): void;
  /** The byte stream cannot be parsed; the listener closes the link. */
  onProtocolError(error: Error): void;
  /** The socket reported an error (the first one is the kernel's verdict on the close that follows). */
  onSocketError(error: NodeJS.ErrnoException): void;
  /** The socket closed. */
  onTransportClosed(): void;
}

/**
 * How a socket frames: its frame limit, the clock its send times are read on, and where data
 * frames go. One object per server or client, shared by all its sockets.
 */
export interface FramingOptions {
  maxFrameBytes: number;
  now: () => number;
  /**
   * Data frames for Nest. Without it they are emitted as `message` on the socket (ClientTCP
   * listens there); the server takes them here, with no listener per socket.
   */
  onMessage?: (socket: HeartbeatSocket, message: Record<string, unknown>) => void;
}

/** FramingOptions with what the sockets of one server or client share to read and write. */
export interface Framing extends FramingOptions {
  readonly beats: BeatReader;
  readonly turns: LoopTurns;
}

export function createFraming(options: FramingOptions): Framing {
  return { ...options, beats: new BeatReader(), turns: new LoopTurns() };
}

/** The HeartbeatSocket of a net.Socket, for the listeners below (shared by every socket). */
const OWNER = Symbol('heartbeatSocket');
type OwnedSocket = Socket & { [OWNER]: HeartbeatSocket };

function onSocketData(this: OwnedSocket, data: Buffer | string): void {
  this[OWNER].received(data);
}
function onSocketError(this: OwnedSocket, error: NodeJS.ErrnoException): void {
  this[OWNER].failed(error);
}
function onSocketClose(this: OwnedSocket): void {
  this[OWNER].closed();
}

/** What a link needs of its socket; the detector's unit tests implement it in memory. */
export interface LinkTransport {
  /** Clock reading of the last frame written, data or control. */
  readonly lastSentAt: number;
  /** Bytes queued in user space for a peer that does not read. */
  readonly writableLength: number;
  /** Server side: requests read whose last reply is not written yet. */
  readonly pendingRequests: number;
  /** The peer's TLS client certificate, when it presented one that verified. */
  peerCertificate(): PeerCertificate | undefined;
  /** The largest frame read from now on (a handshake is read under a smaller limit). */
  setFrameLimit(bytes: number): void;
  /** Writes a control frame; returns its encoded length. */
  sendControl(frame: ControlFrame): number;
  /** Writes `ping(seq, t, rtt)` (`rtt` NaN: none) from the numbers; returns its encoded length. */
  sendPing(seq: number, t: number, rtt: number): number;
  /** Writes the pong to a ping of `seq` and `t`; returns its encoded length. */
  sendPong(seq: number, t: number): number;
  /** Graceful close (FIN after what is queued). */
  end(): void;
  /** Immediate close. */
  destroy(): void;
}

/**
 * Turns of the event loop as the sockets see them: a turn is what runs before the next
 * `process.nextTick` (a synchronous run and the microtasks and ticks it queued). One tick per
 * turn ends it, and only when a socket asked.
 */
export class LoopTurns {
  private turn = 0;
  private ending = false;

  current(): number {
    if (!this.ending) {
      this.ending = true;
      process.nextTick(endTurn, this);
    }
    return this.turn;
  }

  /** @internal */
  end(): void {
    this.ending = false;
    this.turn++;
  }
}
function endTurn(turns: LoopTurns): void {
  turns.end();
}

/**
 * A burst is written in pieces of this many frames (or characters) as well as at the end of
 * the turn: the peer starts on the first replies while the rest are still being produced, so
 * two processes keep working in parallel instead of taking turns, with a fraction of the
 * system calls of one write per frame.
 */
const FLUSH_FRAMES = 8;
const FLUSH_CHARS = 16 * 1024;

/**
 * Nest's `<length>#<json>` framing, with heartbeat frames split off from data frames.
 *
 * Plugs into ServerTCP/ClientTCP as their `socketClass` (Nest's seam for custom framing):
 * data frames are emitted as `message` exactly like JsonSocket, control frames go to the
 * listener and never reach user handlers. Reads are never paused for backpressure, so a
 * busy link still hears heartbeats; a peer that does not read is cut instead (see the link).
 *
 * Writes are coalesced: the first data frame of a turn of the event loop is written at once;
 * the others sent in the same turn (e.g. the replies to every request of one read) are joined
 * and written together — every FLUSH_FRAMES frames, and the rest on `process.nextTick` —
 * instead of one write system call per frame. A control frame is written at once when
 * nothing is queued, else behind the queued data, so order is always kept. `end()` and
 * `destroy()` flush what is queued first, so a goodbye or a reject still goes out.
 */
export class HeartbeatSocket extends TcpSocket implements LinkTransport, BeatSink {
  private listener: FrameListener | null = null;
  /** A number from the start (not `undefined`): V8 then updates it in place instead of boxing every send's time. */
  lastSentAt = 0;
  private readonly options: Framing;
  /** Null once the byte stream was refused: nothing more is read. */
  private decoder: FrameDecoder | null;
  /** Created on the first chunk that ends inside a multi-byte character; ASCII-ending chunks need none. */
  private text: StringDecoder | null = null;
  /** Encoded frames waiting to be written. */
  private outbox = '';
  /** Frames in the outbox. */
  private queued = 0;
  /** Write callbacks of the queued frames (rare: Nest sends without one). */
  private outboxCallbacks: Array<(err?: unknown) => void> | null = null;
  /** Turn in which a data frame was last written directly. */
  private directTurn = -1;
  /**
   * Server side: requests read on this socket whose last reply (`isDisposed`, or an `err`, as
   * ClientTCP counts it) is not written yet. A draining server waits for them.
   */
  pendingRequests = 0;

  constructor(socket: Socket, options: Framing) {
    // TcpSocket's constructor would hang four closures per socket on it (~0.5 KiB per peer with
    // their contexts and listener arrays, bench B2): it gets a sink, and the socket gets three
    // listeners shared by every socket, which find this object through OWNER.
    super(LISTENER_SINK);
    adoptSocket(this, socket);
    (socket as OwnedSocket)[OWNER] = this;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    this.options = options;
    // Until the handshake completes no peer can make us buffer a big frame (README "Errors and hostile peers").
    this.decoder = new FrameDecoder(Math.min(HANDSHAKE_MAX_FRAME_BYTES, options.maxFrameBytes));
    this.lastSentAt = options.now();
  }

  /**
   * Nest's ClientTCP constructs its `socketClass` with the socket alone: this class closes over
   * the framing options so the socket is complete from its constructor on.
   */
  static withOptions(options: Framing): new (socket: Socket) => HeartbeatSocket {
    return class ConfiguredHeartbeatSocket extends HeartbeatSocket {
      constructor(socket: Socket) {
        super(socket, options);
      }
    };
  }

  /** The link that receives this socket's frames; set once, before the first byte can arrive. */
  bindListener(listener: FrameListener): void {
    this.listener = listener;
  }

  setFrameLimit(bytes: number): void {
    this.decoder?.setMaxLength(bytes);
  }

  peerCertificate(): PeerCertificate | undefined {
    const tls = this.socket as Partial<TLSSocket>;
    if (typeof tls.getPeerCertificate !== 'function' || tls.authorized !== true) return undefined;
    const cert = tls.getPeerCertificate();
    return cert && Object.keys(cert).length > 0 ? cert : undefined;
  }

  /** Bytes queued in user space (frames not yet handed to the socket are counted in characters). */
  get writableLength(): number {
    return this.socket.writableLength + this.outbox.length;
  }

  protected handleSend(message: unknown, callback?: (err?: unknown) => void): void {
    this.lastSentAt = this.options.now();
    if (this.pendingRequests > 0) {
      const reply = message as { isDisposed?: boolean; err?: unknown };
      if (reply.isDisposed === true || reply.err !== undefined) this.pendingRequests--;
    }
    const data = encodeFrame(message as object);
    // The first frame of a turn goes out at once: a lone request or reply waits for nothing.
    const turn = this.options.turns.current();
    if (this.outbox.length === 0 && this.directTurn !== turn) {
      this.directTurn = turn;
      this.socket.write(data, 'utf8', callback);
      return;
    }
    this.enqueue(data, callback);
  }

  sendControl(frame: ControlFrame): number {
    return this.writeControl(encodeControl(frame), 'utf8');
  }

  sendPing(seq: number, t: number, rtt: number): number {
    return this.writeControl(encodePing(seq, t, rtt), 'latin1');
  }

  sendPong(seq: number, t: number): number {
    return this.writeControl(encodePong(seq, t), 'latin1');
  }

  /** `latin1` for pings and pongs: ASCII (numbers only), where it is the same bytes as UTF-8 and a plain copy. */
  private writeControl(data: string, encoding: 'latin1' | 'utf8'): number {
    if (this.socket.destroyed || this.socket.writableEnded) return 0;
    this.lastSentAt = this.options.now();
    if (this.outbox.length === 0) this.socket.write(data, encoding);
    else this.enqueue(data);
    return data.length;
  }

  /** Graceful close: what is queued, then FIN. */
  end(): this {
    this.flush();
    this.socket.end();
    return this;
  }

  destroy(): void {
    this.flush();
    this.socket.destroy();
  }

  /** Writes the queued frames now, in one call (also done every FLUSH_FRAMES frames, on the next tick, and by `end()` / `destroy()`). */
  flush(): void {
    if (this.outbox.length === 0) return;
    const data = this.outbox;
    const callbacks = this.outboxCallbacks;
    this.outbox = '';
    this.queued = 0;
    this.outboxCallbacks = null;
    if (callbacks === null) {
      this.socket.write(data, 'utf8');
    } else {
      this.socket.write(data, 'utf8', (err) => {
        for (const cb of callbacks) cb(err);
      });
    }
  }

  /** @internal The socket's `data` (what TcpSocket's own listener would do). */
  received(data: Buffer | string): void {
    this.handleData(data);
  }

  /** @internal The socket's `error`: no more sends, and the link learns the kernel's verdict. */
  failed(error: NodeJS.ErrnoException): void {
    markClosed(this);
    this.listener?.onSocketError(error);
  }

  /** @internal The socket's `close`. */
  closed(): void {
    markClosed(this);
    this.listener?.onTransportClosed();
  }

  protected handleData(data: Buffer | string): void {
    const decoder = this.decoder;
    if (decoder === null) return;
    try {
      // Pings and pongs straight from the bytes; the rest (data, other control frames) as text.
      if (typeof data !== 'string' && this.text === null && decoder.idle) {
        const used = this.options.beats.read(data, decoder.maxLength, this);
        if (used === data.length || this.decoder === null) return;
        if (used > 0) data = data.subarray(used);
      }
      let text: string;
      if (typeof data === 'string') text = data;
      else if (this.text === null && (data.length === 0 || data[data.length - 1] < 0x80)) text = data.toString('utf8');
      else text = (this.text ??= new StringDecoder('utf8')).write(data);
      decoder.push(text, deliver, this);
    } catch (error) {
      this.decoder = null;
      if (this.listener) this.listener.onProtocolError(error);
      else failFraming(this, error);
    }
  }

  /** @internal Called by the beat reader for each ping or pong read as numbers. */
  onBeat(isPing: boolean, seq: number, t: number, rtt: number, length: number): void {
    if (this.decoder === null) return;
    if (this.listener) this.listener.onBeat(isPing, seq, t, rtt, length);
    else this.onDecodedFrame(beatFrame(isPing, seq, t, rtt), length);
  }

  /** @internal Called by the decoder for each frame. */
  onDecodedFrame(frame: Record<string, unknown>, length: number): void {
    if (this.decoder === null) return;
    if (this.listener && !this.listener.onFrame(frame, length)) return;
    if (this.options.onMessage) {
      if (frame.id !== undefined) this.pendingRequests++;
      this.options.onMessage(this, frame);
    } else {
      this.socket.emit('message', frame);
    }
  }

  private enqueue(data: string, callback?: (err?: unknown) => void): void {
    // The first frame into an empty outbox schedules the flush (a flush already scheduled for
    // an outbox written out since then just finds it empty).
    if (this.outbox.length === 0) {
      this.outbox = data;
      process.nextTick(flushSocket, this);
    } else {
      this.outbox += data;
    }
    if (callback) (this.outboxCallbacks ??= []).push(callback);
    if (++this.queued >= FLUSH_FRAMES || this.outbox.length >= FLUSH_CHARS) this.flush();
  }
}

function flushSocket(socket: HeartbeatSocket): void {
  socket.flush();
}

function deliver(this: HeartbeatSocket, frame: Record<string, unknown>, length: number): void {
  this.onDecodedFrame(frame, length);
}
