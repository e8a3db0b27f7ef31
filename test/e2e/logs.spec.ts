import { Module, type INestApplicationContext, type INestMicroservice, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  HeartbeatModule, HeartbeatServer, PresenceService, type HeartbeatModuleOptions, type PresenceEvent,
} from '../../src/index.js';
import { freePort, sleep, waitForEvent } from '../support/apps.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';

/**
 * What a user reads in the logs: one line per state change, at a level that fits, no stack
 * traces, nothing repeated for one event — with Nest's own TCP transport logging underneath.
 */
interface Line { level: string; context: string; text: string }

/** A LoggerService that keeps every line, stacks and Error objects included, as text. */
function captureLogs(): { logger: LoggerService; lines: Line[] } {
  const lines: Line[] = [];
  const record = (level: string) => (message: unknown, ...params: unknown[]) => {
    const context = typeof params.at(-1) === 'string' ? String(params.pop()) : '';
    const parts = [message, ...params].map((p) => (p instanceof Error ? String(p.stack) : typeof p === 'string' ? p : JSON.stringify(p)));
    if (!boot.test(context)) lines.push({ level, context, text: parts.join(' ') });
  };
  /** Nest's own start-up lines are not ours to judge. */
  const boot = /^(NestFactory|InstanceLoader|NestMicroservice|NestApplication)$/;
  const logger: LoggerService = {
    log: record('log'), error: record('error'), warn: record('warn'), debug: record('debug'), verbose: record('verbose'), fatal: record('fatal'),
  };
  return { logger, lines };
}

const show = (lines: Line[]) => lines.map((l) => `${l.level} [${l.context}] ${l.text}`).join('\n');
const STACK = /\n\s+at /;

function expectReadable(lines: Line[]): void {
  for (const line of lines) {
    expect(line.text).not.toMatch(STACK);
    expect(line.level).not.toMatch(/error|fatal/);
  }
  const texts = lines.map((l) => `${l.context} ${l.text}`);
  expect(new Set(texts).size).toBe(texts.length);
}

const DELAYED_SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'delayed-server.ts');
const delayed = new Set<ChildProcess>();

/** A server process that boots now and listens when told (test/fixtures/delayed-server.ts). */
function spawnDelayedServer(options: HeartbeatModuleOptions) {
  const child = spawn(process.execPath, ['--import', 'tsx', DELAYED_SERVER, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, NODE_OPTIONS: '' },
  });
  delayed.add(child);
  const seen: Array<{ evt: string; t: number }> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    if (l.startsWith('{')) seen.push(JSON.parse(l));
    else process.stderr.write(`delayed server: ${l}\n`);
  });
  const line = async (evt: string) => {
    const deadline = Date.now() + 15_000;
    while (!seen.some((l) => l.evt === evt)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`delayed server: no ${evt}`);
      await sleep(5);
    }
    return seen.find((l) => l.evt === evt)!;
  };
  return { child, line };
}

describe('logs', () => {
  let apps: INestApplicationContext[] = [];
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.close()));
    apps = [];
    await killAllPeers();
    for (const child of delayed) child.kill('SIGKILL');
    delayed.clear();
  });

  /** A client application whose log lines are captured. */
  async function startClient(options: HeartbeatModuleOptions) {
    const { logger, lines } = captureLogs();
    @Module({ imports: [HeartbeatModule.forRoot(options)] })
    class ClientModule {}
    const client = await NestFactory.createApplicationContext(ClientModule, { logger });
    client.enableShutdownHooks();
    apps.push(client);
    const events: PresenceEvent[] = [];
    client.get(PresenceService).events$.subscribe((e) => events.push(e));
    return { lines, events };
  }

  it('a client across a 12 s outage of its server: connected, lost, still unreachable, reconnected — nothing per attempt', async () => {
    const port = await freePort();
    const heartbeat = { intervalMs: 500 };
    // maxDelayMs 1000 (default 5000) brings the client back within 1 s of the server's return,
    // so this test stays under 20 s; it also makes more attempts (≈ 12 in 12 s): a stricter bound.
    const reconnect = { maxDelayMs: 1000 };
    const server = new PeerProcess({ nodeId: 'srv', heartbeat, server: { port } });
    // The replacement boots now, alongside, and listens when the outage is over.
    const again = spawnDelayedServer({ nodeId: 'srv', heartbeat, server: { port } });
    await Promise.all([server.ready(), again.line('booted')]);
    const { lines, events } = await startClient({ nodeId: 'cli', heartbeat, clients: [{ name: 'SRV', port, reconnect }] });
    await waitForEvent(events, (e) => e.type === 'joined');

    await server.kill();
    const killedAt = Date.now();
    await sleep(12_000 - (Date.now() - killedAt));
    again.child.stdin!.write('listen\n');
    const ready = await again.line('ready');
    const outageMs = ready.t - killedAt;
    await waitForEvent(events, (e) => e.type === 'joined' && e.at >= ready.t, 5_000);
    const attempts = Number(/after (\d+) attempts/.exec(lines.at(-1)?.text ?? '')?.[1]);

    process.stderr.write(`outage ${outageMs} ms, ${attempts} connection attempts, ${lines.length} log lines:\n${show(lines)}\n`);
    expect(outageMs).toBeGreaterThanOrEqual(12_000);
    expect(attempts).toBeGreaterThanOrEqual(8); // many attempts were made…
    expect(lines.map((l) => [l.level, l.context])).toEqual([ // …and logged as four lines, one per state change
      ['log', 'HeartbeatClient SRV'], ['warn', 'HeartbeatClient SRV'], ['warn', 'HeartbeatClient SRV'], ['log', 'HeartbeatClient SRV'],
    ]);
    const at = `at 127\\.0\\.0\\.1:${port}`;
    expect(lines[0].text).toBe(`connected to "srv" at 127.0.0.1:${port}`);
    expect(lines[1].text).toMatch(new RegExp(`^lost "srv" ${at} \\((closed-without-goodbye|connection-reset)\\); reconnecting in \\d+ ms$`));
    expect(lines[2].text).toMatch(new RegExp(`^still cannot reach 127\\.0\\.0\\.1:${port} after \\d+ attempts \\(ECONNREFUSED\\); retrying every 1000 ms$`));
    expect(lines[3].text).toMatch(new RegExp(`^reconnected to "srv" ${at} after ${attempts} attempts \\(1\\d\\.\\d s down\\)$`));
    expectReadable(lines);
  }, 60_000);

  it('a client that starts before its server says so once, then once at the backoff cap, then connected after N attempts', async () => {
    const port = await freePort();
    const { lines, events } = await startClient({ nodeId: 'cli', clients: [{ name: 'SRV', port, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }] });
    await sleep(2_000); // ≈ 12 attempts
    const server = new PeerProcess({ nodeId: 'srv', server: { port } });
    await server.ready();
    await waitForEvent(events, (e) => e.type === 'joined', 5_000);
    expect(show(lines)).toMatch(new RegExp([
      `^warn \\[HeartbeatClient SRV\\] cannot reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); retrying in \\d+ ms`,
      `warn \\[HeartbeatClient SRV\\] still cannot reach 127\\.0\\.0\\.1:${port} after 3 attempts \\(ECONNREFUSED\\); retrying every 200 ms`,
      `log \\[HeartbeatClient SRV\\] connected to "srv" at 127\\.0\\.0\\.1:${port} after \\d+ attempts$`,
    ].join('\n')));
    expectReadable(lines);
  });

  it('a server whose client crashes (reset by the kernel) logs one warning with the reason, no ERROR with a stack', async () => {
    const I = 300;
    const { logger, lines } = captureLogs();
    @Module({ imports: [HeartbeatModule.forRoot({ nodeId: 'srv', heartbeat: { intervalMs: I }, server: { port: 0 } })] })
    class ServerModule {}
    const app = await NestFactory.createMicroservice<INestMicroservice>(ServerModule, {
      inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger,
    } as never);
    app.enableShutdownHooks();
    await app.listen();
    apps.push(app);
    const events: PresenceEvent[] = [];
    app.get(PresenceService).events$.subscribe((e) => events.push(e));
    const peer = new PeerProcess({ nodeId: 'crashy', heartbeat: { intervalMs: I }, clients: [{ name: 'SERVER', port: app.get(HeartbeatServer).address!.port }] });
    await waitForEvent(events, (e) => e.type === 'joined' && e.peer.id === 'crashy');
    // Stopped, it no longer reads our pings; killed with unread data, its kernel answers with
    // a reset (RST), which Nest's ServerTCP would log as an ERROR with a stack.
    peer.signal('SIGSTOP');
    await sleep(1.3 * I);
    peer.signal('SIGKILL');
    const lost = await waitForEvent(events, (e) => e.type === 'lost');
    await sleep(200);
    process.stderr.write(`${show(lines)}\n`);
    expect(lost.reason).toBe('connection-reset');
    const lostLines = lines.filter((l) => /crashy/.test(l.text) && /lost/.test(l.text));
    expect(lostLines).toEqual([{ level: 'warn', context: 'Presence', text: 'Peer "crashy" was lost (connection-reset)' }]);
    expect(lines.filter((l) => l.context === 'Presence' && /joined/.test(l.text))).toHaveLength(1);
    expectReadable(lines);
  });
});
