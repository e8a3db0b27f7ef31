import * as messages from '../common/heartbeat.messages.js';
import type { ResolvedClientOptions } from '../options/resolved-options.js';
import { loggedByLink } from '../link/logged-causes.js';

export interface LogLine {
  level: 'log' | 'warn';
  message: string;
}

/**
 * What a HeartbeatClient says about its connection: one line per state change, never one per
 * attempt. Connected; lost (with the reason) and reconnecting (with the next delay); still
 * unreachable once the backoff reaches its cap; reconnected after N attempts. Pure: the client
 * tells it what happened and logs what it returns.
 */
export class ReconnectLog {
  private failures = 0;
  private downSince: number | undefined;
  private everConnected = false;

  constructor(private readonly target: string, private readonly reconnect: ResolvedClientOptions['reconnect']) {}

  /** An open link ended for `cause`; the first attempt is in `delayMs`. */
  linkClosed(peerId: string, cause: string, delayMs: number, now: number): LogLine {
    this.downSince = now;
    this.failures = 0;
    if (cause === 'goodbye') return { level: 'log', message: messages.clientPeerLeft(peerId, this.target, delayMs) };
    // The link has already logged why it closed (e.g. "silent for 3612 ms"): not twice.
    return { level: 'warn', message: messages.clientPeerLost(peerId, this.target, loggedByLink(cause) ? undefined : cause, delayMs) };
  }

  /** Connection attempt `attempt` (0-based backoff index) failed with `error`; the next one is in `delayMs`. */
  attemptFailed(error: string, attempt: number, delayMs: number, now: number): LogLine | undefined {
    this.downSince ??= now;
    this.failures++;
    if (this.failures === 1 && !this.everConnected) {
      return { level: 'warn', message: messages.clientReconnecting(this.target, delayMs, error) };
    }
    // The first delay at the cap: from here on every attempt waits about maxDelayMs. Said once.
    const { initialDelayMs, maxDelayMs, factor } = this.reconnect;
    const capped = (a: number) => a >= 0 && initialDelayMs * factor ** a >= maxDelayMs;
    if (capped(attempt) && !capped(attempt - 1)) {
      return { level: 'warn', message: messages.clientStillUnreachable(this.target, this.failures, error, maxDelayMs) };
    }
    return undefined;
  }

  /** The handshake completed. */
  connected(peerId: string, now: number): LogLine {
    const message = this.everConnected
      ? messages.clientReconnected(peerId, this.target, this.failures + 1, now - (this.downSince ?? now))
      : messages.clientConnected(peerId, this.target, this.failures + 1);
    this.everConnected = true;
    this.failures = 0;
    this.downSince = undefined;
    return { level: 'log', message };
  }
}
