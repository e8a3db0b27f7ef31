import type { CloseCause, LossReason } from '../interfaces/presence.interface.js';

export type { CloseCause };

/** The kernel's verdict on a socket that closed with an error, as a loss reason. */
export function causeFromSocketError(code: string | undefined): LossReason {
  switch (code) {
    // Keepalive probes or TCP_USER_TIMEOUT expired. Linux reports the last soft error instead
    // of ETIMEDOUT when it has one, e.g. EHOSTUNREACH once the route to the peer went away.
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
      return 'keepalive-timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'connection-reset';
    default:
      return 'closed-without-goodbye';
  }
}

export function isDeparture(cause: CloseCause): boolean {
  return cause === 'goodbye' || cause === 'local';
}
