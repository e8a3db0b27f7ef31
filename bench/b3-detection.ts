/**
 * B3 — detection latency: time from a fault in a peer to the presence event on the server.
 *
 *   node --import tsx bench/b3-detection.ts [--trials=20] [--quick] [--no-cable]
 *
 * The observer is a HeartbeatServer microservice in this process; peers are real Nest apps
 * (test/fixtures/peer-app.ts, spawned through test/support/peer-process.ts) holding a
 * HeartbeatClient to it. Per setting (defaults: intervalMs 1000, missedBeats 3; fast: intervalMs 100),
 * `trials` peers per fault type are faulted in parallel, each at a random offset within
 * max(interval, 2 s), so the faults fall at every phase of the heartbeat cycle:
 *   SIGSTOP  (hung process)      → lost,  bound missedBeats × interval + interval
 *   SIGKILL  (crash, kernel FIN) → lost,  bound 200 ms
 *   SIGTERM  (graceful shutdown) → left,  bound 100 ms
 *   cable    (veth link down, peer in its own network namespace; root only) → lost, bound as SIGSTOP
 * The fault instant is read just before the signal / the `ip link set down`, the event instant
 * when PresenceService.events$ emits, both from this process's performance.now().
 */
import 'reflect-metadata';
import { Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { HeartbeatModule, HeartbeatServer, PresenceService, type PresenceEvent } from '../src/index.js';
import { createNetPair, destroyAllNetPairs, netnsAvailable, type NetPair } from '../lab/netns.js';
import { killAllPeers, PeerProcess } from '../test/support/peer-process.js';
import { argValue, hasFlag, isMain, log, machineInfo, sleep, summarize, writeResult } from './lib/common.js';
import { renderResults } from './lib/report.js';
import type { B3Result, B3Row, Fault, Setting } from './lib/results.js';

const SPREAD_MS = 2000;
interface Observed {
  id: string;
  type: PresenceEvent['type'];
  reason?: string;
  t: number;
}

/** One observing server: a HeartbeatServer microservice whose presence events are time-stamped here. */
class Observer {
  readonly events: Observed[] = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly app: INestMicroservice, readonly port: number) {
    app.get(PresenceService).events$.subscribe((e) => {
      this.events.push({ id: e.peer.id, type: e.type, reason: e.reason, t: performance.now() });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async start(setting: Setting, host: string): Promise<Observer> {
    @Module({
      imports: [HeartbeatModule.forRoot({
        nodeId: `b3-observer-${setting.name}`,
        server: { host, port: 0 },
        heartbeat: { intervalMs: setting.intervalMs, missedBeats: setting.missedBeats },
      })],
    })
    class ObserverModule {}
    const app = await NestFactory.createMicroservice<MicroserviceOptions>(ObserverModule, {
      inject: [HeartbeatServer], useFactory: (s: HeartbeatServer) => ({ strategy: s }), logger: ['error'],
    } as never);
    await app.listen();
    return new Observer(app, app.get(HeartbeatServer).address!.port);
  }

  /** First event of `type` for `id` after time `since`. */
  async next(type: Observed['type'], id: string, since: number, timeoutMs: number): Promise<Observed | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.events.find((e) => e.type === type && e.id === id && e.t >= since);
      if (found) return found;
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): Promise<void> {
    return this.app.close();
  }
}

interface Peer {
  id: string;
  proc: PeerProcess;
  pair?: NetPair;
}

function peerConfig(setting: Setting, id: string, host: string, port: number) {
  return {
    nodeId: id,
    heartbeat: { intervalMs: setting.intervalMs, missedBeats: setting.missedBeats },
    clients: [{ name: 'SERVER', host, port, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } }],
  };
}

/** Spawns peers (a few at a time: each is a Nest app compiled by tsx) and waits until the observer saw each join. */
async function spawnPeers(observer: Observer, setting: Setting, tag: string, count: number, pairs?: NetPair[]): Promise<Peer[]> {
  const peers: Peer[] = [];
  const since = performance.now();
  const WAVE = 10;
  for (let i = 0; i < count; i += WAVE) {
    const wave: Peer[] = [];
    for (let j = i; j < Math.min(count, i + WAVE); j++) {
      const id = `b3-${setting.name}-${tag}-${j}-${process.pid}`;
      const pair = pairs?.[j];
      const host = pair ? pair.hostAddress : '127.0.0.1';
      const proc = new PeerProcess(peerConfig(setting, id, host, observer.port) as never, pair ? { netns: pair.name } : {});
      wave.push({ id, proc, pair });
    }
    await Promise.all(wave.map((p) => p.proc.ready(60_000)));
    peers.push(...wave);
  }
  for (const p of peers) {
    const joined = await observer.next('joined', p.id, since, 30_000);
    if (!joined) throw new Error(`peer ${p.id} never joined`);
  }
  return peers;
}

function boundFor(setting: Setting, fault: Fault): number {
  switch (fault) {
    case 'SIGKILL':
      return 200;
    case 'graceful':
      return 100;
    default:
      return setting.missedBeats * setting.intervalMs + setting.intervalMs;
  }
}

/** Faults every peer at a random offset within `spreadMs`, returns each peer's fault instant. */
async function inflict(peers: Peer[], spreadMs: number, fault: (p: Peer) => Promise<void> | void): Promise<Map<string, number>> {
  const at = new Map<string, number>();
  await Promise.all(peers.map(async (p) => {
    await sleep(Math.random() * spreadMs);
    at.set(p.id, performance.now());
    await fault(p);
  }));
  return at;
}

/** Faults and measures one group, watching this process's event-loop delay meanwhile. */
async function faultAndMeasure(observer: Observer, setting: Setting, fault: Fault, peers: Peer[], spreadMs: number,
  inflictOne: (p: Peer) => Promise<void> | void): Promise<B3Row> {
  const eld = monitorEventLoopDelay({ resolution: 5 });
  eld.enable();
  const at = await inflict(peers, spreadMs, inflictOne);
  const row = await measure(observer, setting, fault, peers, at);
  eld.disable();
  row.observerLoopDelay = { p99: eld.percentile(99) / 1e6, max: eld.max / 1e6 };
  return row;
}

async function measure(observer: Observer, setting: Setting, fault: Fault, peers: Peer[], faultAt: Map<string, number>): Promise<B3Row> {
  const expected = fault === 'graceful' ? 'left' : 'lost';
  const boundMs = boundFor(setting, fault);
  const latencies: number[] = [];
  const reasons: Record<string, number> = {};
  let wrong = 0;
  await Promise.all(peers.map(async (p) => {
    const t0 = faultAt.get(p.id)!;
    const e = await observer.next(expected, p.id, t0, Math.max(3 * boundMs, 5000));
    if (!e) return;
    latencies.push(e.t - t0);
    const reason = e.reason ?? e.type;
    reasons[reason] = (reasons[reason] ?? 0) + 1;
    // A 'lost' where 'left' was expected (or the reverse) would be a wrong verdict.
    const other = expected === 'left' ? 'lost' : 'left';
    if (observer.events.some((x) => x.id === p.id && x.type === other && x.t >= t0)) wrong++;
  }));
  const s = summarize(latencies);
  const sorted = [...latencies].sort((a, b) => a - b);
  const row: B3Row = {
    setting: setting.name, intervalMs: setting.intervalMs, missedBeats: setting.missedBeats, fault, expected, boundMs,
    trials: peers.length, detected: latencies.length, latenciesMs: latencies.map((x) => Math.round(x * 10) / 10),
    latency: s, p90: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))] ?? NaN,
    reasons, wrongEvents: wrong, observerLoopDelay: { p99: NaN, max: NaN },
    met: latencies.length === peers.length && s.max <= boundMs && wrong === 0,
  };
  log(`b3 ${setting.name} ${fault}: median ${s.median.toFixed(0)} ms, max ${s.max.toFixed(0)} ms (bound ${boundMs}), ${row.detected}/${row.trials} detected ${JSON.stringify(reasons)}`);
  return row;
}

async function runSetting(setting: Setting, trials: number, cable: { ok: boolean; reason?: string }): Promise<B3Row[]> {
  const rows: B3Row[] = [];
  // Faults are spread over at least 2 s: every phase of the heartbeat cycle is hit, and the
  // peers' own teardown (20 Node processes exiting) does not all land on the 2 cores at once.
  const spread = Math.max(setting.intervalMs, SPREAD_MS);
  const observer = await Observer.start(setting, '127.0.0.1');
  try {
    // Group A: SIGSTOP, then SIGCONT and rejoin, then graceful stop (SIGTERM).
    const a = await spawnPeers(observer, setting, 'a', trials);
    rows.push(await faultAndMeasure(observer, setting, 'SIGSTOP', a, spread, (p) => p.proc.signal('SIGSTOP')));
    const resumed = performance.now();
    for (const p of a) p.proc.signal('SIGCONT');
    for (const p of a) {
      if (!(await observer.next('joined', p.id, resumed, 15_000))) log(`b3: ${p.id} did not rejoin after SIGCONT`);
    }
    await sleep(Math.max(2 * setting.intervalMs, 1000));
    rows.push(await faultAndMeasure(observer, setting, 'graceful', a, spread, (p) => p.proc.signal('SIGTERM')));
    await Promise.all(a.map((p) => p.proc.kill()));

    // Group B: SIGKILL.
    const b = await spawnPeers(observer, setting, 'k', trials);
    await sleep(setting.intervalMs);
    rows.push(await faultAndMeasure(observer, setting, 'SIGKILL', b, spread, (p) => p.proc.signal('SIGKILL')));
    await Promise.all(b.map((p) => p.proc.kill()));
  } finally {
    await killAllPeers();
    await observer.close();
  }

  // Group C: cable pull, each peer in its own network namespace behind a veth pair.
  if (!cable.ok) {
    rows.push({
      setting: setting.name, intervalMs: setting.intervalMs, missedBeats: setting.missedBeats, fault: 'cable', expected: 'lost',
      boundMs: boundFor(setting, 'cable'), trials: 0, detected: 0, latenciesMs: [], latency: summarize([]), p90: NaN,
      reasons: {}, wrongEvents: 0, observerLoopDelay: { p99: NaN, max: NaN }, met: false, skipped: cable.reason,
    });
    return rows;
  }
  // The peers reach this server over veth (10.213.n.1), so it listens on all addresses for this group only.
  const cableObserver = await Observer.start(setting, '0.0.0.0');
  try {
    const pairs = await Promise.all(Array.from({ length: trials }, () => createNetPair()));
    const c = await spawnPeers(cableObserver, setting, 'c', trials, pairs);
    await sleep(setting.intervalMs);
    rows.push(await faultAndMeasure(cableObserver, setting, 'cable', c, spread, (p) => p.pair!.linkDown()));
  } finally {
    await killAllPeers();
    await destroyAllNetPairs();
    await cableObserver.close();
  }
  return rows;
}

export async function runB3(options: { trials?: number; cable?: boolean } = {}): Promise<B3Result> {
  const started = Date.now();
  const trials = options.trials ?? 20;
  const settings: Setting[] = [
    { name: 'defaults', intervalMs: 1000, missedBeats: 3 },
    { name: 'fast', intervalMs: 100, missedBeats: 3 },
  ];
  const machine = machineInfo();
  const cable = options.cable === false ? { ok: false, reason: 'disabled (--no-cable)' } : await netnsAvailable();
  const notes: string[] = [];
  if (!cable.ok) notes.push(`cable pull skipped: ${cable.reason}`);
  const rows: B3Row[] = [];
  try {
    for (const setting of settings) rows.push(...await runSetting(setting, trials, cable));
  } finally {
    await killAllPeers();
    await destroyAllNetPairs().catch(() => undefined);
  }
  const result: B3Result = { benchmark: 'b3', machine, config: { trials, settings }, rows, durationMs: Date.now() - started, notes };
  writeResult('b3', result);
  return result;
}

if (isMain(import.meta.url)) {
  const trials = argValue('trials') ? Number(argValue('trials')) : hasFlag('--quick') ? 5 : undefined;
  const r = await runB3({ trials, cable: !hasFlag('--no-cable') });
  renderResults();
  log(`b3 done in ${(r.durationMs / 1000).toFixed(0)} s`);
  process.exit(0);
}
