import type { Socket } from 'node:net';
import type { LinkContext, LinkOwner } from '../link/link-context.js';
import { PeerLink, type LinkAuth } from '../link/peer-link.js';
import { HeartbeatSocket } from '../protocol/heartbeat-socket.js';
import { applyKeepAlive } from './keepalive.js';

/**
 * The one place a socket becomes a heartbeat link, for both sides: frames, the socket's errors
 * and its close go to the link (through the socket's shared listeners), and kernel keepalive is set
 * once the socket has a descriptor (accepted: now; outbound: on connect, where the link also
 * says hello before any data).
 */
export function attachLink(
  framed: HeartbeatSocket, direction: 'inbound' | 'outbound', ctx: LinkContext, address: string, owner: LinkOwner, auth: LinkAuth = {},
): PeerLink {
  const socket = framed.netSocket;
  const link = new PeerLink(direction, address, framed, ctx, owner, auth);
  framed.bindListener(link);
  if (direction === 'inbound') {
    applyKeepAlive(socket, ctx.keepAlive);
  } else {
    socket.once('connect', () => {
      applyKeepAlive(socket, ctx.keepAlive);
      link.start();
    });
  }
  return link;
}

export function remoteAddress(socket: Socket): string {
  return `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
}
