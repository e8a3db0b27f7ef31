/**
 * B8 server process: `node --import tsx bench/b8/rr-server.ts <ours|stock> <nodeId> <workMs>`.
 *
 * One instance of the service being rolled: `@MessagePattern('work')` answers after `workMs`
 * (a request that takes a while, so some are in flight when the instance stops). It stops the
 * way Kubernetes stops a pod: SIGTERM, with Nest's shutdown hooks enabled.
 *
 * ours:  HeartbeatModule.forRoot({ nodeId, server }) + createMicroservice({ inject: [HeartbeatServer], useFactory });
 *        on SIGTERM `app.close()` drains (server.drainTimeoutMs, default 5 s), then says goodbye.
 * stock: createMicroservice({ transport: Transport.TCP }) (ServerTCP); on SIGTERM `app.close()`
 *        closes the listener and destroys every socket.
 */
import 'reflect-metadata';
import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { HeartbeatModule, HeartbeatServer } from '../../src/index.js';
import { freePort } from '../../lab/ports.js';
import { emit, serveCommands } from '../lib/proc.js';

const impl = process.argv[2] === 'stock' ? 'stock' : 'ours';
const nodeId = process.argv[3] ?? `b8-${process.pid}`;
const workMs = Number(process.argv[4] ?? 50);
let served = 0;

@Controller()
class WorkController {
  @MessagePattern('work') async work(n: number) {
    await new Promise((resolve) => setTimeout(resolve, workMs));
    served++;
    return n;
  }
}


const logger = ['error', 'warn'] as ('error' | 'warn')[];
let app: INestMicroservice;
let port: number;
if (impl === 'ours') {
  @Module({ imports: [HeartbeatModule.forRoot({ nodeId, server: { host: '127.0.0.1', port: 0 } })], controllers: [WorkController] })
  class OursModule {}
  app = await NestFactory.createMicroservice<MicroserviceOptions>(OursModule, {
    inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger,
  } as never);
  app.enableShutdownHooks(['SIGTERM']);
  await app.listen();
  port = app.get(HeartbeatServer).address!.port;
} else {
  @Module({ controllers: [WorkController] })
  class StockModule {}
  port = await freePort();
  app = await NestFactory.createMicroservice<MicroserviceOptions>(StockModule, {
    transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger,
  });
  app.enableShutdownHooks(['SIGTERM']);
  await app.listen();
}
process.on('exit', () => emit({ evt: 'exit', served }));
emit({ evt: 'ready', impl, nodeId, port, pid: process.pid });

serveCommands((cmd) => {
  switch (cmd.cmd) {
    case 'status':
      return { served };
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, () => app.close());
