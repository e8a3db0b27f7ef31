/** Boots HeartbeatModule (with or without `cluster`) and prints what happened; see cluster-lazy.spec.ts. */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HeartbeatModule } from '../../../src/index.js';

const withCluster = process.argv[2] === 'cluster';
@Module({ imports: [HeartbeatModule.forRoot(withCluster ? { cluster: { redis: 'redis://127.0.0.1:1' } } : {})] })
class ProbeModule {}

try {
  const app = await NestFactory.createApplicationContext(ProbeModule, { logger: false });
  await app.close();
  process.stdout.write('BOOTED\n');
} catch (error) {
  process.stdout.write(`FAILED ${(error as Error).message}\n`);
}
process.exit(0);
