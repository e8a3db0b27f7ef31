/**
 * B1 server process: `node --import tsx bench/b1/echo-server.ts <ours|stock>`.
 *
 * ours:  HeartbeatModule.forRoot({ server }) + createMicroservice({ inject: [HeartbeatServer], useFactory })
 * stock: createMicroservice({ transport: Transport.TCP }) (ServerTCP + JsonSocket)
 * Same controller both ways: `echo` returns its payload, `event` counts, `events` reads and resets the count.
 */
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, Transport, type MicroserviceOptions } from '@nestjs/microservices';
import { HeartbeatModule, HeartbeatServer } from '../../src/index.js';
import { freePort } from '../../lab/ports.js';
import { emit, serveCommands } from '../lib/proc.js';

const impl = process.argv[2] === 'stock' ? 'stock' : 'ours';
let events = 0;

@Controller()
class EchoController {
  @MessagePattern('echo') echo(data: unknown) {
    return data;
  }
  @EventPattern('event') event(_data: unknown) {
    events++;
  }
  @MessagePattern('events') count(_data: unknown) {
    const n = events;
    events = 0;
    return n;
  }
}

@Module({
  imports: [HeartbeatModule.forRoot({ nodeId: 'b1-server', server: { host: '127.0.0.1', port: 0 } })],
  controllers: [EchoController],
})
class OursModule {}

@Module({ controllers: [EchoController] })
class StockModule {}


const logger = ['error', 'warn'] as ('error' | 'warn')[];
let port: number;
let close: () => Promise<void>;
if (impl === 'ours') {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(OursModule, {
    inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger,
  } as never);
  await app.listen();
  port = app.get(HeartbeatServer).address!.port;
  close = () => app.close();
} else {
  port = await freePort();
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(StockModule, {
    transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger,
  });
  await app.listen();
  close = () => app.close();
}

serveCommands((cmd) => {
  switch (cmd.cmd) {
    case 'cpu':
      return process.cpuUsage();
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, () => close());

emit({ evt: 'ready', impl, port, pid: process.pid });
