/**
 * Test support: read socket options back from the kernel for a live Node socket.
 *
 * `getsockopt(2)` is called through `ffi-rs` (the FFI layer `net-keepalive` already depends on),
 * the same way `net-keepalive/lib/ffi-bindings.js` does it: the option value and its length are
 * passed as ffi-rs pointers created with `createPointer` and read back with `restorePointer`.
 *
 * Linux only: the option numbers below are the Linux ones.
 */
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import {
  DataType,
  PointerType,
  createPointer,
  freePointer,
  load,
  open,
  restorePointer,
} from 'ffi-rs';

/** What the kernel reports for one TCP socket. Times are in milliseconds. */
export interface SocketOptions {
  /** SO_KEEPALIVE */
  keepAlive: boolean;
  /** TCP_KEEPIDLE (kernel unit: seconds) */
  keepIdleMs: number;
  /** TCP_KEEPINTVL (kernel unit: seconds) */
  keepIntervalMs: number;
  /** TCP_KEEPCNT */
  keepCount: number;
  /** TCP_USER_TIMEOUT (kernel unit: milliseconds; 0 = system default behaviour) */
  userTimeoutMs: number;
  /** TCP_NODELAY */
  noDelay: boolean;
}

/** Linux socket option numbers (<asm-generic/socket.h>, <netinet/tcp.h>). */
export const LINUX_SOCKOPT = {
  SOL_SOCKET: 1,
  SO_KEEPALIVE: 9,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  TCP_USER_TIMEOUT: 18,
} as const;

/**
 * The libuv handle shapes we look at. None of these are public Node API:
 *  - `net.Socket#_handle` is a `TCP` wrap with an `fd` getter (-1 on Windows / when closed).
 *  - `tls.TLSSocket#_handle` is a `TLSWrap`; it forwards `fd` to the stream it wraps, and keeps
 *    that stream (the `TCP` wrap) as `_handle._parent`.
 *  - A server-side `TLSSocket` (and one made by `tls.connect({ socket })`) keeps the plain
 *    `net.Socket` it wraps as `_parent`.
 */
interface HandleLike {
  fd?: unknown;
  _parent?: HandleLike | null;
}
interface SocketLike {
  _handle?: HandleLike | null;
  _parent?: SocketLike | null;
}

const isFd = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0;

/**
 * The OS file descriptor behind a `net.Socket` or `tls.TLSSocket`.
 *
 * Looks, in order, at `socket._handle.fd`, at `socket._handle._parent.fd` (the TCP wrap under a
 * TLSWrap), then repeats both on `socket._parent` (the net.Socket a TLSSocket wraps). Throws when
 * none of them carries a valid fd (socket not connected yet, already closed, Windows, or a TLS
 * socket layered over a non-socket stream).
 */
export function socketFd(socket: Socket): number {
  const seen = new Set<SocketLike>();
  let current: SocketLike | null | undefined = socket as unknown as SocketLike;
  while (current && !seen.has(current)) {
    seen.add(current);
    const handle = current._handle;
    if (handle) {
      if (isFd(handle.fd)) return handle.fd;
      if (handle._parent && isFd(handle._parent.fd)) return handle._parent.fd;
    }
    current = current._parent;
  }
  throw new Error(
    'socketFd: socket has no file descriptor (not connected yet, already closed, or not backed by an OS socket)',
  );
}

const LIBRARY = 'nest-heartbeat-test-libc';
let libraryOpen = false;

function ensureLibrary(): void {
  if (libraryOpen) return;
  if (process.platform !== 'linux') {
    throw new Error(`readSocketOptions: only Linux option numbers are known (platform is ${process.platform})`);
  }
  // path '' = dlopen(NULL): the running process, which already links libc.
  open({ library: LIBRARY, path: '' });
  libraryOpen = true;
}

/** getsockopt(fd, level, name, &int, &len) → int. Throws an errno-style Error on failure. */
export function getsockoptInt(fd: number, level: number, name: number): number {
  ensureLibrary();
  const [valuePtr] = createPointer({ paramsType: [DataType.I32], paramsValue: [0] });
  const [lengthPtr] = createPointer({ paramsType: [DataType.I32], paramsValue: [4] }); // sizeof(int)
  try {
    const { value: ret, errnoCode } = load<DataType.I32, true>({
      library: LIBRARY,
      funcName: 'getsockopt',
      retType: DataType.I32,
      paramsType: [DataType.I32, DataType.I32, DataType.I32, DataType.External, DataType.External],
      paramsValue: [fd, level, name, valuePtr, lengthPtr],
      errno: true,
    });
    if (ret !== 0) {
      // errno is only meaningful when the call failed (it is stale otherwise).
      const code = getSystemErrorName(-errnoCode);
      throw Object.assign(new Error(`getsockopt(fd ${fd}, level ${level}, option ${name}) failed: ${code}`), {
        code,
        errno: -errnoCode,
        syscall: 'getsockopt',
      });
    }
    const [value] = restorePointer({ retType: [DataType.I32], paramsValue: [valuePtr] }) as number[];
    return value;
  } finally {
    freePointer({ paramsType: [DataType.I32], paramsValue: [valuePtr], pointerType: PointerType.RsPointer });
    freePointer({ paramsType: [DataType.I32], paramsValue: [lengthPtr], pointerType: PointerType.RsPointer });
  }
}

/** Read SO_KEEPALIVE, TCP_KEEPIDLE/KEEPINTVL/KEEPCNT, TCP_USER_TIMEOUT and TCP_NODELAY from the kernel. */
export function readSocketOptions(socket: Socket): SocketOptions {
  const fd = socketFd(socket);
  const { SOL_SOCKET, SO_KEEPALIVE, IPPROTO_TCP, TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT } =
    LINUX_SOCKOPT;
  return {
    keepAlive: getsockoptInt(fd, SOL_SOCKET, SO_KEEPALIVE) !== 0,
    keepIdleMs: getsockoptInt(fd, IPPROTO_TCP, TCP_KEEPIDLE) * 1000,
    keepIntervalMs: getsockoptInt(fd, IPPROTO_TCP, TCP_KEEPINTVL) * 1000,
    keepCount: getsockoptInt(fd, IPPROTO_TCP, TCP_KEEPCNT),
    userTimeoutMs: getsockoptInt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT),
    noDelay: getsockoptInt(fd, IPPROTO_TCP, TCP_NODELAY) !== 0,
  };
}
