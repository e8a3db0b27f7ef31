import { createServer } from 'node:net';

/**
 * The lab's port helper (tests, benchmarks).
 *
 * A free TCP port on 127.0.0.1, from the kernel. Check-then-use: only for a server that must
 * be started later on a port known in advance (bind port 0 and read the address otherwise).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
