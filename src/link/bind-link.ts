import type { Socket } from 'node:net';
import type { HeartbeatSocket } from '../protocol/heartbeat-socket.js';
import type { LinkContext, PeerLink } from './peer-link.js';

/** Wires a framed socket to its link: frames in, and the socket's error code on close. */
export function bindLink(framed: HeartbeatSocket, link: PeerLink, ctx: LinkContext, maxFrameBytes: number): PeerLink {
  const socket: Socket = framed.netSocket;
  framed.configure({ maxFrameBytes, now: ctx.now, listener: link });
  let errorCode: string | undefined;
  socket.on('error', (e: unknown) => {
    errorCode ??= (e as NodeJS.ErrnoException)?.code;
  });
  socket.on('close', () => link.onTransportClosed(errorCode));
  return link;
}

export function remoteAddress(socket: Socket): string {
  return `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
}
