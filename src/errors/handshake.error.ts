import type { CloseCause } from '../interfaces/presence.interface.js';

/** Rejects `HeartbeatClient.connect()` when the link closed or was refused before the server's welcome. */
export class HandshakeError extends Error {
  constructor(
    /** Why the link ended: `auth-failed` or `protocol-error` when the server refused us, else the socket's verdict. */
    readonly closeCause: CloseCause,
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}
