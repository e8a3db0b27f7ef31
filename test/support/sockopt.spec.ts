import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { setKeepAliveInterval, setKeepAliveProbes, setUserTimeout } from 'net-keepalive';
import { readSocketOptions, socketFd, type SocketOptions } from './sockopt.js';

const isLinux = process.platform === 'linux';
const t = isLinux ? test : test.skip;
if (!isLinux) console.warn(`sockopt.spec skipped: Linux option numbers only (platform ${process.platform})`);

/** Kernel defaults for a socket nobody has touched (root network namespace sysctls). */
function kernelDefaults(): SocketOptions {
  const sysctl = (name: string): number => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim());
  return {
    keepAlive: false,
    keepIdleMs: sysctl('tcp_keepalive_time') * 1000,
    keepIntervalMs: sysctl('tcp_keepalive_intvl') * 1000,
    keepCount: sysctl('tcp_keepalive_probes'),
    userTimeoutMs: 0,
    noDelay: false,
  };
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** Loopback TCP server + connected client; resolves with both ends. */
async function tcpPair(): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const acceptedP = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [accepted] = await acceptedP;
  cleanups.push(() => {
    client.destroy();
    accepted.destroy();
    server.close();
  });
  return { client, accepted };
}

describe('socketFd', () => {
  t('returns the fd of a connected net.Socket and throws once it is closed', async () => {
    const { client, accepted } = await tcpPair();
    const fd = socketFd(client);
    expect(Number.isInteger(fd) && fd > 2).toBe(true);
    expect(socketFd(accepted)).not.toBe(fd);
    client.destroy();
    await once(client, 'close');
    expect(() => socketFd(client)).toThrow(/no file descriptor/);
  });

  test('walks _handle.fd, then _handle._parent.fd, then the same on _parent', () => {
    const as = (x: unknown) => x as net.Socket;
    expect(socketFd(as({ _handle: { fd: 11 } }))).toBe(11);
    // TLSWrap without an fd getter: the TCP wrap under it.
    expect(socketFd(as({ _handle: { fd: -1, _parent: { fd: 12 } } }))).toBe(12);
    // Server-side TLSSocket: the wrapped net.Socket.
    expect(socketFd(as({ _handle: { fd: undefined }, _parent: { _handle: { fd: 13 } } }))).toBe(13);
    expect(socketFd(as({ _handle: null, _parent: { _handle: { _parent: { fd: 14 } } } }))).toBe(14);
    expect(() => socketFd(as({ _handle: null }))).toThrow(/no file descriptor/);
    const cyclic: { _handle: null; _parent?: unknown } = { _handle: null };
    cyclic._parent = cyclic;
    expect(() => socketFd(as(cyclic))).toThrow(/no file descriptor/);
  });
});

describe('readSocketOptions (net)', () => {
  t('reports kernel defaults for fresh sockets (keepalive off)', async () => {
    const { client, accepted } = await tcpPair();
    expect(readSocketOptions(client)).toEqual(kernelDefaults());
    expect(readSocketOptions(accepted)).toEqual(kernelDefaults());
  });

  t('reads back what setKeepAlive/setNoDelay/net-keepalive set, on that socket only', async () => {
    const { client, accepted } = await tcpPair();
    client.setKeepAlive(true, 3000);
    client.setNoDelay(true);
    // net-keepalive setters must come after setKeepAlive (see the libuv test below).
    setKeepAliveInterval(client, 2000);
    setKeepAliveProbes(client, 4);
    setUserTimeout(client, 7500);

    expect(readSocketOptions(client)).toEqual({
      keepAlive: true,
      keepIdleMs: 3000,
      keepIntervalMs: 2000,
      keepCount: 4,
      userTimeoutMs: 7500,
      noDelay: true,
    });
    expect(readSocketOptions(accepted)).toEqual(kernelDefaults());

    client.setKeepAlive(false);
    client.setNoDelay(false);
    expect(readSocketOptions(client)).toMatchObject({ keepAlive: false, noDelay: false });
  });

  t('documents libuv: setKeepAlive(true, ms) also forces TCP_KEEPINTVL=1s and TCP_KEEPCNT=10', async () => {
    const { client } = await tcpPair();
    client.setKeepAlive(true, 5000);
    const afterSetKeepAlive = readSocketOptions(client);
    setKeepAliveInterval(client, 3000);
    setKeepAliveProbes(client, 3);
    client.setKeepAlive(true, 6000); // a different delay re-enters uv_tcp_keepalive...
    const afterSecondSetKeepAlive = readSocketOptions(client);
    console.log('libuv', process.versions.uv, { afterSetKeepAlive, afterSecondSetKeepAlive });
    expect(afterSetKeepAlive).toMatchObject({ keepAlive: true, keepIdleMs: 5000, keepIntervalMs: 1000, keepCount: 10 });
    // ...and silently resets what net-keepalive set.
    expect(afterSecondSetKeepAlive).toMatchObject({ keepIdleMs: 6000, keepIntervalMs: 1000, keepCount: 10 });
  });
});

const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const opensslMissing = openssl.error ? `openssl CLI not available (${openssl.error.message})` : undefined;
if (opensslMissing) console.warn(`sockopt.spec TLS case skipped: ${opensslMissing}`);
const tlsTest = isLinux && !opensslMissing ? test : test.skip;

describe(`readSocketOptions (tls)${opensslMissing ? ` [skipped: ${opensslMissing}]` : ''}`, () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;

  beforeAll(() => {
    if (opensslMissing) return;
    dir = mkdtempSync(join(tmpdir(), 'hb-sockopt-'));
    const res = spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      { encoding: 'utf8' },
    );
    if (res.status !== 0) throw new Error(`openssl failed: ${res.stderr}`);
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  tlsTest('server (secureConnection) and client (tls.connect) TLS sockets expose the TCP fd', async () => {
    const server = tls.createServer({ key, cert });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const rawP = once(server, 'connection') as Promise<[net.Socket]>;
    const secureP = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
    const client = tls.connect({ port, host: '127.0.0.1', ca: cert, servername: 'localhost' });
    cleanups.push(() => {
      client.destroy();
      server.close();
    });
    await once(client, 'secureConnect');
    const [raw] = await rawP;
    const [secure] = await secureP;
    cleanups.push(() => secure.destroy());

    // Server side: the TLSSocket wraps the accepted net.Socket; both name the same fd.
    expect(socketFd(secure)).toBe(socketFd(raw));
    expect(readSocketOptions(secure)).toEqual(kernelDefaults());

    // Client side (no net.Socket underneath, only the TCP wrap under the TLSWrap).
    client.setKeepAlive(true, 4000);
    client.setNoDelay(true);
    setKeepAliveInterval(client, 2000);
    setKeepAliveProbes(client, 5);
    setUserTimeout(client, 9000);
    expect(readSocketOptions(client)).toEqual({
      keepAlive: true,
      keepIdleMs: 4000,
      keepIntervalMs: 2000,
      keepCount: 5,
      userTimeoutMs: 9000,
      noDelay: true,
    });

    // Set on the server-side TLSSocket, read back through the raw socket (same kernel object).
    secure.setKeepAlive(true, 7000);
    setKeepAliveProbes(secure, 2);
    expect(readSocketOptions(raw)).toMatchObject({ keepAlive: true, keepIdleMs: 7000, keepCount: 2 });

    // Still a working TLS connection.
    secure.write('hello\n');
    const [chunk] = (await once(client, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('hello\n');
  });
});
