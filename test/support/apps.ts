import { freePort } from '../../lab/ports.js';
import { Controller, Module, type INestApplicationContext, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, MessagePattern, type TcpContext } from '@nestjs/microservices';
import { readSocketOptions } from './sockopt.js';
import {
  HeartbeatModule, HeartbeatServer, PresenceService, type HeartbeatModuleOptions, type PresenceEvent,
} from '../../src/index.js';

/** Every message and event that reached a user handler, in order. */
export const handled: Array<{ pattern: string; data: unknown }> = [];

@Controller()
export class EchoController {
  @MessagePattern('echo') echo(data: unknown) {
    handled.push({ pattern: 'echo', data });
    return data;
  }
  @MessagePattern('slow') async slow(data: { ms: number }) {
    handled.push({ pattern: 'slow', data });
    await new Promise((r) => setTimeout(r, data.ms));
    return data;
  }
  /** The accepted socket's options, read back from the kernel, as a handler sees its socket. */
  @MessagePattern('socket-options') socketOptions(_data: unknown, @Ctx() ctx: TcpContext) {
    return readSocketOptions(ctx.getSocketRef().netSocket);
  }
  @EventPattern('note') note(data: unknown) {
    handled.push({ pattern: 'note', data });
  }
}

export interface RunningApp<A extends INestApplicationContext = INestApplicationContext> {
  app: A;
  presence: PresenceService;
  events: PresenceEvent[];
  close(): Promise<void>;
}

function collect<A extends INestApplicationContext>(app: A): RunningApp<A> {
  const presence = app.get(PresenceService);
  const events: PresenceEvent[] = [];
  presence.events$.subscribe((e) => events.push(e));
  return { app, presence, events, close: () => app.close() };
}

/** A HeartbeatServer microservice in this process, on port 0 (the OS picks) unless one is given. */
export async function startServerApp(options: HeartbeatModuleOptions = {}, extra: { providers?: Array<new (...args: never[]) => unknown> } = {}) {
  @Module({
    imports: [HeartbeatModule.forRoot({ nodeId: 'server', ...options, server: { port: 0, ...options.server } })],
    controllers: [EchoController],
    providers: extra.providers ?? [],
  })
  class ServerModule {}
  const app = await NestFactory.createMicroservice<INestMicroservice>(ServerModule, {
    inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger: false,
  } as never);
  await app.listen();
  const server = app.get(HeartbeatServer);
  return { ...collect(app), server, port: server.address!.port };
}

/** An application context holding the configured HeartbeatClients. */
export async function startClientApp(options: HeartbeatModuleOptions) {
  @Module({ imports: [HeartbeatModule.forRoot({ nodeId: 'client', ...options })] })
  class ClientModule {}
  const app = await NestFactory.createApplicationContext(ClientModule, { logger: false });
  await app.init();
  return collect(app);
}

/**
 * A port that is free now. Check-then-use: another process may take it before it is bound, so
 * use it only where the port must stay unbound for a while (a client that starts before its
 * server); everywhere else bind port 0 and read the address.
 */
export { freePort };

/** Polls `predicate` every 5 ms. */
export async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Closes whatever was registered, even when the test failed half-way (use in afterEach). */
export class Closer {
  private items: Array<{ close(): unknown }> = [];
  add<T extends { close(): unknown }>(item: T): T {
    this.items.push(item);
    return item;
  }
  async closeAll(): Promise<void> {
    const items = this.items.splice(0).reverse();
    for (const item of items) {
      try {
        await item.close();
      } catch {
        // already closed
      }
    }
  }
}

/** Resolves with the first event matching, already seen or to come. */
export async function waitForEvent(events: PresenceEvent[], match: (e: PresenceEvent) => boolean, timeoutMs = 10_000): Promise<PresenceEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching presence event within ${timeoutMs} ms; saw ${JSON.stringify(events.map((e) => [e.type, e.peer.id, e.reason]))}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
