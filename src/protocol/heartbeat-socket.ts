import { TcpSocket } from '@nestjs/microservices';
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { DEFAULT_MAX_FRAME_BYTES } from '../heartbeat.constants.js';
import { FrameDecoder } from './frame-decoder.js';
import { encodeFrame, type ControlFrame } from './frames.js';

/** What the socket reports to the link that owns it. */
export interface FrameListener {
  /** Every frame received; return `true` to hand it to Nest as a data message. */
  onFrame(frame: Record<string, unknown>, length: number): boolean;
  /** The byte stream cannot be parsed; the listener closes the link. */
  onProtocolError(error: Error): void;
}

/** What a link needs of its socket; the detector's unit tests implement it in memory. */
export interface LinkTransport {
  /** Clock reading of the last frame written, data or control. */
  readonly lastSentAt: number;
  /** Bytes queued in user space for a peer that does not read. */
  readonly writableLength: number;
  /** Writes a control frame; returns its encoded length. */
  sendControl(frame: ControlFrame): number;
  /** Graceful close (FIN after what is queued). */
  end(): void;
  /** Immediate close. */
  destroy(): void;
}

/**
 * Nest's `<length>#<json>` framing, with heartbeat frames split off from data frames.
 *
 * Plugs into ServerTCP/ClientTCP as their `socketClass` (Nest's seam for custom framing):
 * data frames are emitted as `message` exactly like JsonSocket, control frames go to the
 * listener and never reach user handlers. Reads are never paused for backpressure, so a
 * busy link still hears heartbeats; a peer that does not read is cut instead (see the link).
 */
export class HeartbeatSocket extends TcpSocket implements LinkTransport {
  listener: FrameListener | null = null;
  lastSentAt = Date.now();
  private now: () => number = Date.now;
  private decoder = new FrameDecoder(DEFAULT_MAX_FRAME_BYTES);
  private readonly text = new StringDecoder('utf8');
  private failed = false;

  /** Nest constructs socket classes with the socket alone; `configure` supplies the rest. */
  constructor(socket: Socket) {
    super(socket);
  }

  configure(options: { maxFrameBytes: number; now: () => number; listener: FrameListener }): this {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    this.now = options.now;
    this.lastSentAt = options.now();
    this.listener = options.listener;
    return this;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  protected handleSend(message: unknown, callback?: (err?: unknown) => void): void {
    this.lastSentAt = this.now();
    this.socket.write(encodeFrame(message as object), 'utf8', callback);
  }

  sendControl(frame: ControlFrame): number {
    if (this.socket.destroyed || this.socket.writableEnded) return 0;
    const data = encodeFrame(frame);
    this.lastSentAt = this.now();
    this.socket.write(data, 'utf8');
    return data.length;
  }

  destroy(): void {
    this.socket.destroy();
  }

  protected handleData(data: Buffer | string): void {
    if (this.failed) return;
    try {
      this.decoder.push(typeof data === 'string' ? data : this.text.write(data), this.deliver);
    } catch (error) {
      this.failed = true;
      if (this.listener) this.listener.onProtocolError(error);
      else this.handleDataError(error, { destroy: true });
    }
  }

  private readonly deliver = (frame: Record<string, unknown>, length: number): void => {
    if (this.failed) return;
    if (!this.listener || this.listener.onFrame(frame, length)) this.socket.emit('message', frame);
  };
}
