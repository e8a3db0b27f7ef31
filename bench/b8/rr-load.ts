/**
 * B8 load process: `node --import tsx bench/b8/rr-load.ts <ours|stock> <host> <port> <clients> <waitForReadyMs>`.
 *
 * `clients` callers of one service address (the Service in front of the instances), each its
 * own connection, as `clients` separate caller pods would hold:
 * ours:  one Nest application context per caller, each with `HeartbeatModule.forRoot({ nodeId,
 *        clients: [{ name, host, port, waitForReadyMs }] })` (a caller pod is one nodeId);
 * stock: one `ClientTCP` per caller (what `ClientsModule.register({ transport: Transport.TCP })` makes).
 *
 * Commands:
 *   { cmd: 'start', rate }   open loop: `rate` requests/s in all, round robin over the callers,
 *                            whatever the replies do (a slow reply never slows the sending)
 *   { cmd: 'stop', settleMs } stop sending; wait up to settleMs for the requests still out;
 *                            → every request: [sent at (epoch ms), latency ms or -1, error or '']
 */
import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientTCP } from '@nestjs/microservices';
import { performance } from 'node:perf_hooks';
import { firstValueFrom } from 'rxjs';
import { HeartbeatModule, type HeartbeatClient } from '../../src/index.js';
import { emit, serveCommands } from '../lib/proc.js';

const [implArg, host, portArg, clientsArg, waitArg] = process.argv.slice(2);
const impl = implArg === 'stock' ? 'stock' : 'ours';
const port = Number(portArg);
const count = Number(clientsArg ?? 8);
const waitForReadyMs = Number(waitArg ?? 0);

const callers: ClientTCP[] = [];
const apps: INestApplicationContext[] = [];
for (let k = 0; k < count; k++) {
  if (impl === 'ours') {
    @Module({ imports: [HeartbeatModule.forRoot({ nodeId: `b8-caller-${process.pid}-${k}`, clients: [{ name: 'SERVICE', host, port, waitForReadyMs }] })] })
    class CallerModule {}
    const app = await NestFactory.createApplicationContext(CallerModule, { logger: ['error'] });
    apps.push(app);
    const client = app.get<HeartbeatClient>('SERVICE');
    await client.connect();
    callers.push(client);
  } else {
    const client = new ClientTCP({ host, port });
    await client.connect();
    callers.push(client);
  }
}

/** [sent at epoch ms, latency ms (-1 while out), error text or ''] per request. */
const records: Array<[number, number, string]> = [];
let timer: NodeJS.Timeout | undefined;
let out = 0;

function sendOne(n: number): void {
  const record: [number, number, string] = [Date.now(), -1, ''];
  records.push(record);
  const t = performance.now();
  out++;
  firstValueFrom(callers[n % callers.length].send('work', n)).then(
    () => { record[1] = performance.now() - t; },
    (e: unknown) => {
      record[1] = performance.now() - t;
      const err = e as Error | { message?: string } | string;
      record[2] = typeof err === 'string' ? err : `${(err as Error).name ?? 'Error'}: ${err.message ?? String(err)}`;
    },
  ).finally(() => out--);
}

function start(rate: number): void {
  const t0 = performance.now();
  let sent = 0;
  // Catch up on every tick: the count follows the clock, not the timer's punctuality.
  timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    while (sent < due) sendOne(sent++);
  }, 2);
}

async function stop(settleMs: number) {
  clearInterval(timer);
  const deadline = Date.now() + settleMs;
  while (out > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return records;
}

emit({ evt: 'ready', impl, callers: callers.length });
serveCommands((cmd) => {
  switch (cmd.cmd) {
    case 'start':
      return start(Number(cmd.rate));
    case 'stop':
      return stop(Number(cmd.settleMs ?? 10_000));
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, async () => {
  for (const app of apps) await app.close();
  for (const c of callers) if (c instanceof ClientTCP && impl === 'stock') c.close();
});
