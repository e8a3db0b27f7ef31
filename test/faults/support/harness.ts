/**
 * Fault lab support: the library in this process (server or clients), event recording with the
 * test's own clock and loop-stall account, timing report lines, and small polling helpers.
 *
 * Everything that measures detection runs the detecting side here, in the jest process, so the
 * fault's instant and the moment an event reaches the test come from one clock (the test's),
 * and this process's loop stalls (which the contract lets stretch the thresholds) are measured
 * by the test itself: nothing the code under test reports about itself widens a bound.
 */
import { Controller, Module, type INestApplicationContext, type INestMicroservice, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern } from '@nestjs/microservices';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import {
  HeartbeatClient, HeartbeatModule, HeartbeatServer, PresenceService, type HeartbeatModuleOptions, type PresenceEvent,
} from '../../../src/index.js';
import { LagMeter, testNow } from '../../support/lag.js';
import { jsonLine, LineProcess } from '../../../lab/child.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One shared logger: Nest routes every `new Logger(ctx)` to the last logger installed, so all apps share this one. */
export class CaptureLogger implements LoggerService {
  readonly lines: Array<{ level: string; message: string; context?: string; t: number }> = [];
  private push(level: string, message: unknown, rest: unknown[]) {
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    this.lines.push({ level, message: message instanceof Error ? message.message : String(message), context, t: Date.now() });
    if (this.lines.length > 20_000) this.lines.splice(0, 10_000);
  }
  log(message: unknown, ...rest: unknown[]) { this.push('log', message, rest); }
  error(message: unknown, ...rest: unknown[]) { this.push('error', message, rest); }
  warn(message: unknown, ...rest: unknown[]) { this.push('warn', message, rest); }
  debug(message: unknown, ...rest: unknown[]) { this.push('debug', message, rest); }
  verbose(message: unknown, ...rest: unknown[]) { this.push('verbose', message, rest); }
  since(t: number) {
    return this.lines.filter((l) => l.t >= t);
  }
}
export const logs = new CaptureLogger();

/** Calls of user handlers in this process, by pattern. */
export const handlerCalls: Record<string, number> = {};
const count = (pattern: string) => (handlerCalls[pattern] = (handlerCalls[pattern] ?? 0) + 1);

@Controller()
export class FaultLabController {
  @MessagePattern('echo') echo(data: unknown) {
    count('echo');
    return data;
  }
  @MessagePattern('count') countCall(data: unknown) {
    count('count');
    return data;
  }
  @MessagePattern('slow') async slow(data: { ms: number }) {
    count('slow');
    await sleep(data.ms);
    return data;
  }
  @EventPattern('note') note(_data: unknown) {
    count('note');
  }
}

export interface RecordedEvent extends PresenceEvent {
  /** When the event reached the test (test clock, epoch ms). */
  seenAt: number;
  /** This process's loop stall since `markFault`'s reference time, measured by the test, read when the event arrived. */
  stallMs: number;
}

/** The library running in this process, with every presence event recorded. */
export class LocalSide<A extends INestApplicationContext = INestApplicationContext> {
  readonly events: RecordedEvent[] = [];
  readonly presence: PresenceService;
  private readonly lag = new LagMeter().start();
  private stallFrom = Number.POSITIVE_INFINITY;
  private waiters: Array<() => void> = [];

  constructor(readonly app: A) {
    this.presence = app.get(PresenceService);
    this.presence.events$.subscribe((e) => {
      this.events.push({ ...e, seenAt: testNow(), stallMs: this.lag.blockedSince(this.stallFrom) });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** The test's clock (epoch ms, sub-millisecond): faults are timed with it, events stamped with it on arrival. */
  now(): number {
    return testNow();
  }

  /**
   * Stalls of this process's loop that ended after `from` are counted into each later event's
   * `stallMs` (the contract stretches both thresholds by them). For a fault at t0, pass
   * t0 − intervalMs: the last frame heard was at most one interval before the fault.
   */
  markFault(from: number): void {
    this.stallFrom = from;
  }

  /** The first event (already recorded or to come) matching, at or after `since`. */
  async next(type: PresenceEvent['type'], peerId: string, since = 0, timeoutMs = 15_000): Promise<RecordedEvent> {
    const match = (e: RecordedEvent) => e.type === type && e.peer.id === peerId && e.seenAt >= since;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no "${type}" of ${peerId} within ${timeoutMs} ms; events: ${JSON.stringify(this.events.map((e) => [e.type, e.peer.id, e.reason, e.at]))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once the peer is alive in the table (joined before or after this call). */
  async alive(peerId: string, timeoutMs = 15_000): Promise<void> {
    await until(() => this.presence.get(peerId)?.status === 'alive', timeoutMs, `${peerId} alive`);
  }

  count(type: PresenceEvent['type'], peerId?: string): number {
    return this.events.filter((e) => e.type === type && (peerId === undefined || e.peer.id === peerId)).length;
  }

  close(): Promise<void> {
    this.lag.stop();
    return this.app.close();
  }
}

export class LocalServer extends LocalSide<INestMicroservice> {
  readonly server: HeartbeatServer;
  constructor(app: INestMicroservice) {
    super(app);
    this.server = app.get(HeartbeatServer);
  }
  get port(): number {
    return this.server.address!.port;
  }
}

export class LocalClients extends LocalSide {
  client(name: string): HeartbeatClient {
    return this.app.get<HeartbeatClient>(name);
  }
}

/** A HeartbeatServer microservice in this process with the fault-lab controller. */
export async function startLocalServer(options: HeartbeatModuleOptions): Promise<LocalServer> {
  @Module({
    imports: [HeartbeatModule.forRoot({ ...options, server: { port: 0, ...options.server } })],
    controllers: [FaultLabController],
  })
  class FaultLabServerModule {}
  const app = await NestFactory.createMicroservice<INestMicroservice>(FaultLabServerModule, {
    inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger: logs,
  } as never);
  const side = new LocalServer(app); // subscribed before anything can connect
  await app.listen();
  return side;
}

/** An application context holding HeartbeatClients (they connect at bootstrap). */
export async function startLocalClients(options: HeartbeatModuleOptions, extra: { controllers?: boolean } = {}): Promise<LocalClients> {
  @Module({
    imports: [HeartbeatModule.forRoot(options)],
    controllers: extra.controllers ? [FaultLabController] : [],
  })
  class FaultLabClientModule {}
  const app = await NestFactory.createApplicationContext(FaultLabClientModule, { logger: logs });
  return new LocalClients(app);
}

/** Polls `predicate` every 5 ms. */
export async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The single report line every fault test prints. */
export function report(line: string): void {
  // eslint-disable-next-line no-console
  console.log(`[fault] ${line}`);
}

export { percentile } from '../../support/apps.js';

let gcFn: (() => void) | undefined;
/** A full GC in this process (v8's gc, exposed at run time: jest cannot pass --expose-gc). */
export function gc(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** heapUsed after two full collections, in MiB. */
export async function heapAfterGc(): Promise<number> {
  await sleep(20);
  gc();
  await sleep(20);
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** A plain node child process printing JSON lines (the attacker script). */
export class LineChild {
  private readonly proc: LineProcess<Record<string, any>>;
  readonly exited: Promise<number | null>;

  constructor(script: string, config: unknown) {
    this.proc = new LineProcess(script, [JSON.stringify(config)], { label: 'attacker', parse: jsonLine, stdin: 'ignore', tsx: false });
    children.add(this);
    this.exited = this.proc.exited;
    void this.exited.then(() => children.delete(this));
  }

  get child() {
    return this.proc.child;
  }

  get lines(): Array<Record<string, any>> {
    return this.proc.messages;
  }

  waitFor(evt: string, timeoutMs: number): Promise<Record<string, any>> {
    return this.proc.waitFor((l) => l.evt === evt, timeoutMs, evt);
  }

  kill(): void {
    this.proc.killNow();
  }
}
const children = new Set<LineChild>();
export function killAllLineChildren(): Promise<unknown> {
  const all = [...children];
  for (const c of all) c.kill();
  return Promise.all(all.map((c) => c.exited));
}

export const ATTACKER = join(dirname(fileURLToPath(import.meta.url)), 'attacker.mjs');

/**
 * Makes sure this process (and the children it spawns, which inherit it) may open `wanted` file
 * descriptors: reads the soft limit from /proc/self/limits and, when lower, raises it with
 * `prlimit` (root may raise the hard limit too). Returns the limit in force afterwards.
 */
export function ensureFdLimit(wanted: number): number {
  const read = (): number => {
    try {
      const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
      const soft = line?.trim().split(/\s+/)[3];
      return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
    } catch {
      return Number.POSITIVE_INFINITY; // not Linux: nothing to check
    }
  };
  if (read() >= wanted) return read();
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${wanted}`], { stdio: 'pipe' });
  } catch {
    // not allowed: the caller sees the lower limit
  }
  return read();
}

/**
 * The loss verdict timed from the test's side, for a fault (SIGSTOP, cable pull) at `t0`:
 *  - `ms`: from the fault to the event reaching the test;
 *  - `bound`: (missedBeats + 1) × intervalMs after the fault (the contract), plus this process's
 *    loop stall as the test measured it (the contract stretches the thresholds by it);
 *  - `earliest`: the peer's last frame came at most one interval (+ one tick) before the fault,
 *    since a side pings after an interval of sending nothing; a verdict before
 *    missedBeats × interval + interval / 2 of silence would show up as `ms` below this.
 */
export function verdictWindow(lost: RecordedEvent, t0: number, hb: { intervalMs: number; missedBeats: number }) {
  const tick = Math.min(100, Math.max(5, Math.round(hb.intervalMs / 10)));
  const threshold = hb.missedBeats * hb.intervalMs + hb.intervalMs / 2;
  return {
    ms: lost.seenAt - t0,
    bound: (hb.missedBeats + 1) * hb.intervalMs + Math.ceil(lost.stallMs),
    earliest: threshold - hb.intervalMs - tick,
    threshold,
  };
}
