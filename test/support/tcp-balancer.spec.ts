/**
 * The lab's Service stand-in (lab/tcp-balancer.ts), which the deploy demo and benchmark B8 put
 * in front of the servers they restart: what they rely on, over real sockets.
 */
import net from 'node:net';
import { once } from 'node:events';
import { TcpBalancer } from '../../lab/tcp-balancer.js';

/** A backend that greets each connection with its name, and can be told what to do with them. */
async function backend(name: string) {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    s.write(`${name}\n`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { name, sockets, server, endpoint: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port } };
}

/** Connects through the balancer; resolves with the first line (the backend's name) and the socket. */
async function call(b: TcpBalancer) {
  const socket = net.connect(b.address.port, b.address.host);
  let data = '';
  socket.on('data', (d) => (data += d));
  const ended = new Promise<{ data: string; error?: string }>((resolve) => {
    socket.on('error', (e: NodeJS.ErrnoException) => resolve({ data, error: e.code }));
    socket.on('close', () => resolve({ data }));
  });
  const first = await Promise.race([
    new Promise<string>((resolve) => socket.on('data', () => data.includes('\n') && resolve(data.split('\n')[0]))),
    ended.then(() => ''),
  ]);
  return { socket, first, ended };
}

let balancer: TcpBalancer;
const backends: Array<Awaited<ReturnType<typeof backend>>> = [];
afterEach(async () => {
  await balancer?.close();
  for (const b of backends.splice(0)) {
    for (const s of b.sockets) s.destroy();
    b.server.close();
  }
});

test('round robin over the endpoints; one taken out gets no new connection and keeps its open ones', async () => {
  balancer = await TcpBalancer.start();
  const [a, b] = [await backend('a'), await backend('b')];
  backends.push(a, b);
  balancer.add(a.endpoint);
  balancer.add(b.endpoint);
  const first = await Promise.all([call(balancer), call(balancer), call(balancer), call(balancer)]);
  expect(first.map((c) => c.first).sort()).toEqual(['a', 'a', 'b', 'b']);

  balancer.remove(a.endpoint);
  const later = await Promise.all([call(balancer), call(balancer)]);
  expect(later.map((c) => c.first)).toEqual(['b', 'b']);
  // The connections already on `a` still carry bytes both ways.
  const onA = first.find((c) => c.first === 'a')!;
  a.sockets[0].write('still here\n');
  await new Promise((resolve) => setTimeout(resolve, 50));
  onA.socket.end();
  expect((await onA.ended).data).toContain('still here');
  for (const c of [...first, ...later]) c.socket.destroy();
});

test('what a backend writes just before it closes arrives, then the FIN (a goodbye is not cut off)', async () => {
  balancer = await TcpBalancer.start();
  const a = await backend('a');
  backends.push(a);
  balancer.add(a.endpoint);
  const c = await call(balancer);
  // The caller does not read for a while, so the last bytes queue inside the balancer when the
  // backend's FIN arrives: they must still be delivered, then the FIN.
  c.socket.pause();
  const last = 'x'.repeat(1024 * 1024);
  a.sockets[0].end(`${last}\nbye\n`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  c.socket.resume();
  const { data, error } = await c.ended;
  expect(error).toBeUndefined();
  expect(data.length).toBe(`a\n${last}\nbye\n`.length);
  expect(data.endsWith('\nbye\n')).toBe(true);
});

test('a backend reset is passed on as a reset; with no endpoint a connection is reset at once', async () => {
  balancer = await TcpBalancer.start();
  const a = await backend('a');
  backends.push(a);
  balancer.add(a.endpoint);
  const c = await call(balancer);
  a.sockets[0].resetAndDestroy();
  expect((await c.ended).error).toBe('ECONNRESET');

  balancer.remove(a.endpoint);
  const refused = await call(balancer);
  expect(refused.first).toBe('');
  expect((await refused.ended).error).toBe('ECONNRESET');
  expect(balancer.refused).toBe(1);
});
