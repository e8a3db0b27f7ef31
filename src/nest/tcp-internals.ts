import type { TcpSocket } from '@nestjs/microservices';
import type { Socket } from 'node:net';

/**
 * The differences between the Nest 11 and Nest 12 TCP internals we build on, in one place.
 * Everything else (ServerTCP's `bindHandler` / `handleMessage` / `getRouteFromPattern`, ClientTCP's
 * `createSocket` / `handleClose` / `routingMap`, TcpSocket's `handleSend` / `handleData`)
 * is the same in @nestjs/microservices 11.1 … 12.
 */

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

/**
 * What HeartbeatSocket hands TcpSocket's constructor instead of its socket: in Nest 11.1 … 12 the
 * constructor stores the socket and calls `on` four times on it (data, connect, close, error),
 * a closure each. HeartbeatSocket sets the socket itself and attaches listeners shared by every
 * socket, so those closures are made and dropped without ever being attached.
 */
export const LISTENER_SINK = { on() { return this; } } as unknown as Socket;
