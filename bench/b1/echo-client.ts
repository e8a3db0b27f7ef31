/**
 * B1 client process: `node --import tsx bench/b1/echo-client.ts <ours|stock> <port>`.
 *
 * ours:  HeartbeatClient from HeartbeatModule.forRoot({ clients: [{ name, port }] })
 * stock: new ClientTCP({ host, port }) (JsonSocket)
 * Commands:
 *   { cmd: 'rr', concurrency, warmupMs, durationMs }  closed loop: `concurrency` requests always in flight
 *   { cmd: 'events', warmupMs, durationMs }           fire-and-forget emits, as fast as the socket drains
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientTCP } from '@nestjs/microservices';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { firstValueFrom } from 'rxjs';
import { HeartbeatModule, type HeartbeatClient } from '../../src/index.js';
import { quantileSorted } from '../lib/common.js';
import { emit, serveCommands } from '../lib/proc.js';
import { PAYLOAD } from './payload.js';

const impl = process.argv[2] === 'stock' ? 'stock' : 'ours';
const port = Number(process.argv[3]);

let client: ClientTCP;
let close: () => Promise<void> | void;
if (impl === 'ours') {
  @Module({ imports: [HeartbeatModule.forRoot({ nodeId: `b1-client-${process.pid}`, clients: [{ name: 'ECHO', host: '127.0.0.1', port }] })] })
  class ClientModule {}
  const app = await NestFactory.createApplicationContext(ClientModule, { logger: ['error', 'warn'] });
  await app.init();
  const hc = app.get<HeartbeatClient>('ECHO');
  await hc.connect();
  client = hc;
  close = () => app.close();
} else {
  client = new ClientTCP({ host: '127.0.0.1', port });
  await client.connect();
  close = () => client.close();
}

const netSocket = (): Socket => (client as unknown as { socket: { netSocket: Socket } }).socket.netSocket;

async function rr(concurrency: number, warmupMs: number, durationMs: number) {
  const latencies: number[] = [];
  let completed = 0;
  let total = 0;
  const t0 = performance.now();
  const from = t0 + warmupMs;
  const to = from + durationMs;
  const cpu0 = process.cpuUsage();
  let cpuFrom: NodeJS.CpuUsage | undefined;
  const worker = async () => {
    for (;;) {
      const s = performance.now();
      if (s >= to) return;
      await firstValueFrom(client.send('echo', PAYLOAD));
      const e = performance.now();
      total++;
      if (e >= from && e < to) {
        completed++;
        latencies.push(e - s);
        cpuFrom ??= process.cpuUsage();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpuFrom ?? cpu0);
  latencies.sort((a, b) => a - b);
  return {
    concurrency, completed, total, durationMs,
    rps: completed / (durationMs / 1000),
    p50: quantileSorted(latencies, 0.5), p99: quantileSorted(latencies, 0.99), max: latencies[latencies.length - 1],
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/** Emits for `ms` in batches, waiting whenever more than 256 KiB is queued; returns how many were emitted. */
async function emitFor(ms: number): Promise<number> {
  const socket = netSocket();
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) client.emit('event', PAYLOAD);
    n += 64;
    await new Promise((resolve) => setImmediate(resolve));
    if (socket.writableLength > 256 * 1024) await once(socket, 'drain');
  }
  return n;
}

async function events(warmupMs: number, durationMs: number) {
  const warmupEmitted = await emitFor(warmupMs);
  await firstValueFrom(client.send('events', {})); // waits for the warm-up backlog, resets the count
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const emitted = await emitFor(durationMs);
  const received = await firstValueFrom(client.send('events', {})) as number;
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { warmupEmitted, emitted, received, elapsedMs, rps: received / (elapsedMs / 1000), clientCpuMs: (cpu.user + cpu.system) / 1000 };
}

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'rr':
      return rr(cmd.concurrency, cmd.warmupMs, cmd.durationMs);
    case 'events':
      return events(cmd.warmupMs, cmd.durationMs);
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, () => close());

emit({ evt: 'ready', impl, pid: process.pid });
