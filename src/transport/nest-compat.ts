import type { ServerTCP, TcpSocket } from '@nestjs/microservices';
import type { Socket } from 'node:net';

/**
 * The differences between the Nest 11 and Nest 12 TCP internals we build on, in one place.
 * Everything else (ServerTCP's `getSocketInstance` / `getRouteFromPattern`, ClientTCP's
 * `createSocket` / `handleClose` / `routingMap`, TcpSocket's `handleSend` / `handleData`)
 * is the same in @nestjs/microservices 11.1 … 12.
 */

/**
 * Stops ServerTCP's `close()` from destroying a socket we close ourselves (after a goodbye).
 * ServerTCP tracks accepted sockets in `openSockets` from 11.2.5 on; before that it destroys
 * none on close, so there is nothing to untrack.
 */
export function untrackSocket(server: ServerTCP, socket: Socket): void {
  (server as unknown as { openSockets?: Set<Socket> }).openSockets?.delete(socket);
}

/**
 * Surfaces a framing error on the socket and destroys it (a peer that sends garbage cannot be
 * trusted to answer a FIN). Nest 12's TcpSocket has `handleDataError` for this; Nest 11's
 * only emits and ends, inline, so do the same by hand there.
 */
export function failFraming(socket: TcpSocket, error: Error): void {
  const withHandler = socket as unknown as { handleDataError?: (e: Error, o: { destroy: boolean }) => void };
  if (typeof withHandler.handleDataError === 'function') {
    withHandler.handleDataError(error, { destroy: true });
  } else {
    socket.netSocket.emit('error', error.message);
    socket.netSocket.destroy();
  }
}
