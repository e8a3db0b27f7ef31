import { Logger } from '@nestjs/common';
import type { Socket } from 'node:net';
import NetKeepAlive from 'net-keepalive';
import * as messages from '../common/heartbeat.messages.js';
import type { ResolvedHeartbeatOptions } from '../options/resolved-options.js';

type KeepAlive = ResolvedHeartbeatOptions['keepAlive'];
const logger = new Logger('HeartbeatKeepAlive');
let warned = false;

/**
 * The socket that owns the file descriptor: the socket itself for TCP and for TLS (its TLSWrap
 * exposes the fd), its `_parent` when a TLS socket wraps an existing one.
 */
export function fdSocket(socket: Socket): Socket | undefined {
  const candidates = [socket, (socket as unknown as { _parent?: Socket })._parent];
  return candidates.find((s) => ((s as unknown as { _handle?: { fd?: number } })?._handle?.fd ?? -1) > 0);
}

/**
 * Applies SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT and TCP_NODELAY.
 * Node sets only the first two (libuv fixes the interval at 1 s and the count at 10), so the
 * rest go through net-keepalive. Call it once the socket has a descriptor (connected or accepted).
 * A platform without these options loses only the kernel layer: heartbeats still run.
 */
export function applyKeepAlive(socket: Socket, options: KeepAlive): void {
  try {
    socket.setNoDelay(options.noDelay);
    socket.setKeepAlive(options.enabled, options.idleMs);
    const raw = fdSocket(socket);
    if (!raw) return; // already closed
    if (options.enabled) {
      NetKeepAlive.setKeepAliveInterval(raw, options.intervalMs);
      NetKeepAlive.setKeepAliveProbes(raw, options.probes);
    }
    if (options.userTimeoutMs > 0) NetKeepAlive.setUserTimeout(raw, options.userTimeoutMs);
  } catch (error) {
    if (!warned) {
      warned = true;
      logger.warn(messages.keepAliveUnavailable((error as Error).message));
    }
  }
}
