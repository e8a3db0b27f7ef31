import type { ServerTCP, TcpSocket } from '@nestjs/microservices';
import type { Server, Socket } from 'node:net';

/**
 * Every reach into Nest's TCP internals, each behind a name, and the differences between the
 * Nest 11 and Nest 12 internals we build on. Everything else we use (ServerTCP's `bindHandler` /
 * `handleMessage` / `getRouteFromPattern`, ClientTCP's `createSocket` / `handleClose` /
 * `routingMap`, TcpSocket's `handleSend` / `handleData`) is a protected member, the same in
 * @nestjs/microservices 11.1 … 12.
 */

/**
 * What HeartbeatSocket hands TcpSocket's constructor instead of its socket: in Nest 11.1 … 12 the
 * constructor stores the socket and calls `on` four times on it (data, connect, close, error),
 * a closure each. HeartbeatSocket sets the socket itself (`adoptSocket`) and attaches listeners
 * shared by every socket, so those closures are made and dropped without ever being attached.
 */
export const LISTENER_SINK = { on() { return this; } } as unknown as Socket;

/** Gives a TcpSocket constructed on LISTENER_SINK its real socket (`netSocket` reads it). */
export function adoptSocket(tcpSocket: TcpSocket, socket: Socket): void {
  (tcpSocket as unknown as { socket: Socket }).socket = socket;
}

/** TcpSocket's `sendMessage` fails fast once this is set (its own close/error listeners would set it). */
export function markClosed(tcpSocket: TcpSocket): void {
  (tcpSocket as unknown as { isClosed: boolean }).isClosed = true;
}

/**
 * Surfaces a framing error on the socket and destroys it (a peer that sends garbage cannot be
 * trusted to answer a FIN). Nest 12's TcpSocket has `handleDataError` for this; Nest 11's
 * only emits and ends, inline, so do the same by hand there.
 */
export function failFraming(tcpSocket: TcpSocket, error: Error): void {
  const withHandler = tcpSocket as unknown as { handleDataError?: (e: Error, o: { destroy: boolean }) => void };
  if (typeof withHandler.handleDataError === 'function') {
    withHandler.handleDataError(error, { destroy: true });
  } else {
    tcpSocket.netSocket.emit('error', error.message);
    tcpSocket.netSocket.destroy();
  }
}

/** ServerTCP's listening socket (typed `any` in Nest 11, a union with TLS in 12). */
export function netServerOf(server: ServerTCP): Server | undefined {
  return (server as unknown as { server?: Server }).server;
}

/** ServerTCP's status stream: what its own `listen` reports when the port cannot be bound. */
export function reportListenFailure(server: ServerTCP): void {
  (server as unknown as { _status$: { next(status: string): void } })._status$.next('disconnected');
}
