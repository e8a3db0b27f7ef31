import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader,
  type DataPoint, type Histogram, type MetricData,
} from '@opentelemetry/sdk-metrics';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sleep, startServerApp, waitForEvent } from '../support/apps.js';
import { killAllPeers, PeerProcess } from '../support/peer-process.js';
import { PeerTable } from '../../src/presence/peer-table.js';

/**
 * OpenTelemetry metrics through the real SDK: a MeterProvider with an in-memory exporter is
 * registered globally before the application starts, as a user's telemetry bootstrap would.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const I = 200;
const M = 3;
const heartbeat = { intervalMs: I, missedBeats: M };

describe('OpenTelemetry metrics (meter "nest-heartbeat")', () => {
  let exporter: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  let provider: MeterProvider;
  let server: Awaited<ReturnType<typeof startServerApp>> | undefined;

  beforeAll(() => {
    exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    provider = new MeterProvider({ readers: [reader] });
    expect(metrics.setGlobalMeterProvider(provider)).toBe(true);
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    await killAllPeers();
  });
  afterAll(async () => {
    metrics.disable();
    await provider.shutdown();
  });

  /** The named metric from a fresh collection. */
  async function collect(): Promise<Map<string, MetricData>> {
    exporter.reset();
    await reader.forceFlush();
    const out = new Map<string, MetricData>();
    for (const rm of exporter.getMetrics()) {
      for (const sm of rm.scopeMetrics) {
        if (sm.scope.name !== 'nest-heartbeat') continue;
        for (const m of sm.metrics) out.set(m.descriptor.name, m);
      }
    }
    return out;
  }
  const points = <T>(m: MetricData | undefined) => (m?.dataPoints ?? []) as Array<DataPoint<T>>;
  const byAttrs = <T>(m: MetricData | undefined, attrs: Record<string, string>) =>
    points<T>(m).filter((p) => Object.keys(attrs).length === Object.keys(p.attributes).length
      && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  const gauge = (m: Map<string, MetricData>) =>
    Object.fromEntries(points<number>(m.get('heartbeat.peers')).map((p) => [p.attributes.status, p.value]));

  it('counts events by type and reason, measures detection from the last frame, and gauges peers by status', async () => {
    server = await startServerApp({ nodeId: 'server', heartbeat });
    // The peers beat slower than the server, so the server is the side that pings each idle link
    // (whichever side pings first keeps pinging: the other's pong resets its clock) and measures RTT.
    const client = (nodeId: string) => new PeerProcess({ nodeId, heartbeat: { ...heartbeat, intervalMs: 2 * I }, clients: [{ name: 'SERVER', port: server!.port }] });
    const crash = client('crash');
    const hang = client('hang');
    await Promise.all([crash.ready(), hang.ready()]);
    await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'crash');
    await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'hang');
    await sleep(5 * I); // a few ping/pong round trips on each link

    const before = await collect();
    expect(gauge(before)).toEqual({ alive: 2, suspect: 0, lost: 0, left: 0 });
    expect(byAttrs<number>(before.get('heartbeat.events'), { type: 'joined' })[0]?.value).toBe(2);
    const rtt = points<Histogram>(before.get('heartbeat.rtt'));
    expect(rtt).toHaveLength(1);
    expect(before.get('heartbeat.rtt')!.descriptor.unit).toBe('ms');
    expect(rtt[0].value.count).toBeGreaterThanOrEqual(4); // the server pings each idle link every interval
    expect(rtt[0].value.min).toBeGreaterThanOrEqual(0);
    expect(rtt[0].value.max).toBeLessThan(200); // loopback: well under a ms when idle; 200 ms allows a loaded 2-core box

    crash.signal('SIGKILL');
    hang.signal('SIGSTOP');
    const crashLost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'crash');
    const hangLost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'hang');
    expect(hangLost.reason).toBe('heartbeat-timeout');
    expect(['closed-without-goodbye', 'connection-reset']).toContain(crashLost.reason);

    const after = await collect();
    const events = after.get('heartbeat.events')!;
    expect(events.dataPointType).toBe(DataPointType.SUM);
    const count = (attrs: Record<string, string>) => byAttrs<number>(events, attrs)[0]?.value;
    expect(count({ type: 'joined' })).toBe(2);
    expect(count({ type: 'lost', reason: 'heartbeat-timeout' })).toBe(1);
    expect(count({ type: 'lost', reason: crashLost.reason! })).toBe(1);
    // Every point is one of those, or the hung peer's suspect on its way to lost.
    const total = points<number>(events).reduce((n, p) => n + p.value, 0);
    expect(total).toBe(server.events.length);
    expect(count({ type: 'suspect' })).toBe(server.events.filter((e) => e.type === 'suspect').length);

    const detection = after.get('heartbeat.detection')!;
    expect(detection.descriptor.unit).toBe('ms');
    const hung = byAttrs<Histogram>(detection, { reason: 'heartbeat-timeout' });
    expect(hung).toHaveLength(1);
    expect(hung[0].value.count).toBe(1);
    // Lost after (M + 0.5) × I of silence, plus at most a tick (20 ms) and whatever a loaded
    // machine adds; the contract's bound is (M + 1) × I after the fault.
    expect(hung[0].value.sum).toBeGreaterThanOrEqual((M + 0.5) * I);
    expect(hung[0].value.sum).toBeLessThanOrEqual((M + 1) * I + 200);
    expect(hung[0].value.sum).toBeCloseTo(hangLost.at - hangLost.peer.lastSeenAt, 0);
    const crashed = byAttrs<Histogram>(detection, { reason: crashLost.reason! });
    expect(crashed[0]?.value.count).toBe(1);
    // The kernel closes a killed process's sockets at once: detection is the time since its
    // last frame (at most one interval, each side pings an idle link every interval).
    expect(crashed[0].value.sum).toBeLessThanOrEqual(I + 200);
    expect(points(detection)).toHaveLength(2);

    expect(gauge(after)).toEqual({ alive: 0, suspect: 0, lost: 2, left: 0 });
  });
});

describe('with @opentelemetry/api but no MeterProvider registered', () => {
  it('metrics are off: no instrument is fed, so a pong costs no RTT sample', async () => {
    const server = await startServerApp({ nodeId: 'server', heartbeat });
    try {
      const peer = new PeerProcess({ nodeId: 'plain', heartbeat: { ...heartbeat, intervalMs: 2 * I }, clients: [{ name: 'SERVER', port: server.port }] });
      await peer.ready();
      await waitForEvent(server.events, (e) => e.type === 'joined' && e.peer.id === 'plain');
      await sleep(3 * I); // pongs arrive and are measured (PeerInfo.rttMs) …
      expect(server.presence.get('plain')?.rttMs).toBeGreaterThan(0);
      // … but nobody listens to the raw samples the metrics would record.
      const table = server.app.get(PeerTable) as unknown as { rttSamples: { observed: boolean } };
      expect(table.rttSamples.observed).toBe(false);
    } finally {
      await server.close();
      await killAllPeers();
    }
  });
});

describe('without @opentelemetry/api', () => {
  it('the package root imports it nowhere statically: only a dynamic import at module init', () => {
    const root = resolve(HERE, '..', '..', 'src');
    const seen = new Set<string>();
    const queue = [join(root, 'index.ts')];
    const mentions: string[] = [];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const line of text.split('\n')) if (/['"]@opentelemetry\//.test(line)) mentions.push(line.trim());
      for (const [, spec] of text.matchAll(/(?:from|import)\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
        queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      }
    }
    expect(seen.size).toBeGreaterThan(10);
    expect(mentions.length).toBeGreaterThan(0);
    // Type-only mentions are erased at compile time; the one that runs is the guarded dynamic import.
    const runtime = mentions.filter((l) => !/^import type /.test(l) && !/typeof import\(/.test(l));
    expect(runtime).toEqual(["api = await import('@opentelemetry/api');"]);
  });

  it('an application boots, connects and runs with the package unresolvable, and nothing of it is loaded', async () => {
    // A child process whose module resolution has no @opentelemetry/* (as if not installed).
    const fixture = join(HERE, '..', 'fixtures', 'no-otel-app.ts');
    const hide = join(HERE, '..', 'fixtures', 'hide-otel.mjs');
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', hide, fixture], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' },
    });
    const lines: any[] = [];
    const stderr: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try { lines.push(JSON.parse(l)); } catch { stderr.push(l); }
    });
    createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    const result = lines.find((l) => l.evt === 'result');
    expect({ code, result, stderr: stderr.slice(-10) }).toMatchObject({ code: 0, result: { joined: true } });
    // The one dynamic import was attempted and refused; nothing under @opentelemetry loaded.
    expect(result.refused).toEqual(['@opentelemetry/api']);
    expect(result.loaded).toEqual([]);
    expect(result.logs.filter((l: { level: string }) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });
});
