/**
 * What the pre-handshake frame cap costs an honest stock client: a stock `ClientTCP` connects on
 * its first `send`, so its first request is the first frame on the connection, which a
 * HeartbeatServer reads as the stock client's handshake.
 *
 *   node --import tsx bench/b7/stock-first-request.ts <library root> [KiB…]   (cwd: the library root)
 *
 * Starts bench/b7/hostile-server.ts of that library (no authToken: stock clients are served),
 * then, for each size, a fresh ClientTCP whose first request carries that many KiB; prints
 * whether it was answered.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Child } from '../lib/proc.js';
import { BENCH_DIR } from '../lib/common.js';

const [root, ...sizes] = process.argv.slice(2);
const { ClientTCP } = await import(pathToFileURL(join(root, 'node_modules/@nestjs/microservices/index.js')).href);
const { firstValueFrom, timeout } = await import(pathToFileURL(join(root, 'node_modules/rxjs/dist/cjs/index.js')).href);
const server = new Child(join(BENCH_DIR, 'b7', 'hostile-server.ts'), [root, ''], { cwd: root, label: 'server' });
const { port } = await server.ready(60_000);
const results: Array<{ kib: number; answered: boolean; error?: string }> = [];
for (const kib of (sizes.length ? sizes : ['1', '63', '65', '100', '1024']).map(Number)) {
  const client = new ClientTCP({ host: '127.0.0.1', port });
  const data = 'x'.repeat(kib * 1024 - 64); // the frame (prefix, pattern, id) stays within kib KiB
  try {
    const reply = await firstValueFrom(client.send('echo', data).pipe(timeout(5000)));
    results.push({ kib, answered: reply === data });
  } catch (e) {
    results.push({ kib, answered: false, error: String((e as Error)?.message ?? e).slice(0, 80) });
  }
  client.close();
}
console.log(JSON.stringify({ root, results }));
await server.stop();
process.exit(0);
