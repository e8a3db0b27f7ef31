/**
 * B2 — heartbeat cost at scale: N idle managed peers at intervalMs 1000, our HeartbeatServer
 * against a `ws` server with the README ping/pong heartbeat, alternated in the same run.
 *
 *   node --import tsx bench/b2-heartbeat-scale.ts [--quick] [--no-profile] [--reps=2] [--steps=1000,10000,20000]
 *   node --import tsx bench/b2-heartbeat-scale.ts --b2-baseline=/tmp/nh-base   (adds `baseline`: a checkout before the change, alternated)
 *   … --impls=baseline,ours --reps=0 --steps=20000 --out=b2-profiles   (only the profiled servers)
 *   … --variants=fmt=/tmp/b2v-fmt,visit=/tmp/b2v-visit   (more checkouts, each one alternated like baseline: one change each)
 *   … --window-ms=20000 --settle-ms=3000
 *
 * One server process per (implementation, repetition); peers are added in steps (1k, 10k, 20k)
 * from two lean client processes. At each step, once every peer is connected and a settle
 * period has passed, the server measures itself over a steady 10 s window (process.cpuUsage
 * deltas), then reports memory after GC (--expose-gc) and its active resources. The machine's load
 * average and steal time (/proc/stat) are recorded around every window: the figures of a busy
 * machine are not comparable with a quiet one's.
 * Unless --no-profile, one more server per implementation (ours, ws) runs at the largest step with
 * the V8 sampling profiler on over the window (not counted in the figures).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  argValue, BENCH_DIR, hasFlag, isMain, log, machineInfo, PROFILES_DIR, sleep, summarize, systemBetween, systemCpu, writeResult,
} from './lib/common.js';
import { summarizeProfile } from './lib/cpuprofile.js';
import { Child } from './lib/proc.js';
import { renderResults } from './lib/report.js';
import type { B2Result, B2Run, B2Step, Impl } from './lib/results.js';

const SERVER = join(BENCH_DIR, 'b2', 'hb-server.ts');
const CLIENTS = join(BENCH_DIR, 'b2', 'lean-clients.ts');
const FD_WANTED = 65536;
const PROFILE_INCLUSIVE = ['tick', 'onTick', 'onStreamRead', 'handleData', 'onFrame', 'sendControl', 'flush', 'writeGeneric', 'writeUtf8String', 'ping', 'sendFrame', 'receiverOnPing', 'receiverOnPong'];
/** fds the server keeps for itself beyond the peers (stdio, epoll, listening socket, margin). */
const FD_RESERVE = 24;

function timersOf(resources: Record<string, number>): number {
  return (resources.Timeout ?? 0) + (resources.Immediate ?? 0);
}

/** Pings the clients answered (sent by the server) and sent themselves, over both client processes. */
async function clientPings(clients: Child[]): Promise<{ answered: number; sent: number }> {
  const all = await Promise.all(clients.map((c) => c.request({ cmd: 'status' })));
  return { answered: all.reduce((s, a) => s + a.pingsAnswered, 0), sent: all.reduce((s, a) => s + a.pingsSent, 0) };
}

async function waitUntil(what: string, pred: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function runOne(impl: Impl, rep: number, runIndex: number, opts: {
  intervalMs: number; steps: number[]; windowMs: number; settleMs: number; profileDir?: string; baseline?: string; variants?: Record<string, string>;
}): Promise<B2Run> {
  // B2_SERVER_ARGS: extra node flags for the server (e.g. --trace-gc with BENCH_VERBOSE=1).
  const execArgv = ['--expose-gc', ...(process.env.B2_SERVER_ARGS?.split(' ').filter(Boolean) ?? [])];
  // baseline and variants: the same bench server from another checkout (the library before a change, or with one change), alternated with ours.
  const root = impl === 'baseline' ? opts.baseline : opts.variants?.[impl];
  const script = root ? join(root, 'bench', 'b2', 'hb-server.ts') : SERVER;
  const server = new Child(script, [root ? 'ours' : impl, String(opts.intervalMs)], {
    execArgv, fdLimit: FD_WANTED, label: `b2-${impl}-server`, cwd: root,
  });
  const clients: Child[] = [];
  try {
    const ready = await server.ready();
    const maxPeers = ready.nofile - ready.fds - FD_RESERVE;
    for (let k = 0; k < 2; k++) {
      clients.push(new Child(CLIENTS, [impl === 'ws' ? 'ws' : 'ours', String(ready.port), String(opts.intervalMs)], { fdLimit: FD_WANTED, label: `b2-${impl}-clients${k}` }));
    }
    await Promise.all(clients.map((c) => c.ready()));
    await sleep(500);
    const base = await server.request({ cmd: 'snapshot' });
    const run: B2Run = {
      impl, rep, fdLimit: ready.nofile, maxPeers,
      baseline: { heapUsed: base.heapUsed, rss: base.rss, timers: timersOf(base.resources), resources: base.resources },
      steps: [],
    };
    let current = 0;
    for (const requested of opts.steps) {
      const peers = Math.min(requested, maxPeers);
      const add = peers - current;
      const t0 = Date.now();
      if (add > 0) {
        const half = Math.ceil(add / 2);
        // Fresh source addresses per run and client: no port clash with TIME_WAIT leftovers.
        const addresses = (k: number) => Array.from({ length: 8 }, (_, j) => `127.${20 + (runIndex % 200)}.${k}.${2 + j}`);
        const out = await Promise.all([
          clients[0].request({ cmd: 'connect', count: half, addresses: addresses(0) }, 180_000),
          clients[1].request({ cmd: 'connect', count: add - half, addresses: addresses(1) }, 180_000),
        ]);
        const failed = out.reduce((s, o) => s + o.failed, 0);
        if (failed > 0) log(`b2 ${impl}: ${failed} connections failed`);
        await waitUntil(`${peers} connections on the ${impl} server`,
          async () => (await server.request({ cmd: 'status' })).connections >= peers, 60_000);
      }
      const connectMs = Date.now() - t0;
      current = peers;
      await sleep(opts.settleMs);
      const profile = opts.profileDir && requested === opts.steps[opts.steps.length - 1] ? join(opts.profileDir, `window-${impl}.cpuprofile`) : undefined;
      const pingsBefore = await clientPings(clients);
      const sys0 = systemCpu();
      const window = await server.request({ cmd: 'window', ms: opts.windowMs, profile }, opts.windowMs + 30_000);
      const system = systemBetween(sys0, systemCpu());
      const pingsAfter = await clientPings(clients);
      const perPeerSecond = (n: number) => n / peers / (window.elapsedMs / 1000);
      const snap = await server.request({ cmd: 'snapshot' });
      const step: B2Step = {
        requested, peers, connectMs,
        window,
        heapUsed: snap.heapUsed,
        rss: snap.rss,
        heapPerPeerBytes: (snap.heapUsed - base.heapUsed) / peers,
        rssPerPeerBytes: (snap.rss - base.rss) / peers,
        marginalHeapPerPeerBytes: run.steps.length > 0 && add > 0
          ? (snap.heapUsed - run.steps[run.steps.length - 1].heapUsed) / add : undefined,
        timers: timersOf(snap.resources),
        resources: snap.resources,
        lostSoFar: snap.counts.lost ?? 0,
        suspectSoFar: snap.counts.suspect ?? 0,
        connections: snap.connections,
        // Who pinged during the window: the protocol needs ~1 ping per link per interval from either side.
        serverPingsPerPeerSecond: perPeerSecond(pingsAfter.answered - pingsBefore.answered),
        clientPingsPerPeerSecond: perPeerSecond(pingsAfter.sent - pingsBefore.sent),
        system,
      };
      run.steps.push(step);
      log(`b2 ${impl} rep ${rep} N=${peers}: cpu ${window.cpuPct.toFixed(1)}% heap/peer ${(step.heapPerPeerBytes / 1024).toFixed(2)} KiB `
        + `rss/peer ${(step.rssPerPeerBytes / 1024).toFixed(2)} KiB timers ${step.timers} lost ${step.lostSoFar} (connect ${connectMs} ms) `
        + `pings/peer/s server ${step.serverPingsPerPeerSecond.toFixed(2)} client ${step.clientPingsPerPeerSecond.toFixed(2)}; `
        + `load ${system.loadAverageStart[0].toFixed(2)} → ${system.loadAverageEnd[0].toFixed(2)}, steal ${system.stealPct.toFixed(1)} %, machine busy ${system.busyPct.toFixed(0)} %`);
    }
    for (const c of clients) await c.request({ cmd: 'close' }).catch(() => undefined);
    for (const c of clients) await c.stop(5000);
    await server.stop(15_000);
    if (opts.profileDir) {
      run.profile = summarizeProfile(join(opts.profileDir, `window-${impl}.cpuprofile`), 30, PROFILE_INCLUSIVE);
    }
    return run;
  } finally {
    for (const c of clients) c.killNow();
    server.killNow();
  }
}

export async function runB2(options: {
  quick?: boolean; profile?: boolean; reps?: number; steps?: number[]; impls?: Impl[]; out?: string;
  /** A checkout of the library before the change under test (with node_modules): adds implementation `baseline`. */
  baseline?: string;
  /** More checkouts (name → root), e.g. one change each: each is an implementation of its own. */
  variants?: Record<string, string>;
  windowMs?: number; settleMs?: number;
} = {}): Promise<B2Result> {
  const started = Date.now();
  const quick = options.quick ?? false;
  const impls: Impl[] = options.impls ?? [
    ...(options.baseline ? ['baseline'] : []), 'ours', ...Object.keys(options.variants ?? {}), 'ws', 'raw',
  ];
  const config = {
    baseline: options.baseline,
    variants: options.variants,
    intervalMs: 1000,
    steps: options.steps ?? (quick ? [1000, 5000] : [1000, 10000, 20000]),
    reps: options.reps ?? (quick ? 1 : 2),
    windowMs: options.windowMs ?? (quick ? 5000 : 10000),
    settleMs: options.settleMs ?? (quick ? 1500 : 3000),
  };
  const machine = machineInfo();
  const runs: B2Run[] = [];
  let runIndex = Math.floor(Math.random() * 100);
  for (let rep = 0; rep < config.reps; rep++) {
    const order: Impl[] = rep % 2 === 0 ? impls : [...impls].reverse();
    for (const impl of order) {
      log(`b2: ${impl}, repetition ${rep + 1}/${config.reps}`);
      // One run that fails (e.g. the connections do not all come up on a machine another job swamps) is
      // logged and left out, not allowed to lose the whole result.
      try {
        runs.push(await runOne(impl, rep, runIndex++, config));
      } catch (error) {
        log(`b2: ${impl}, repetition ${rep + 1} failed and is left out: ${(error as Error).message}`);
      }
    }
  }
  if (options.profile) {
    const dir = join(PROFILES_DIR, 'b2');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const steps = [config.steps[config.steps.length - 1]];
    for (const impl of options.impls?.filter((i) => i !== 'raw') ?? ['ours', 'ws'] as Impl[]) {
      log(`b2: profiling the ${impl} server over the window at N=${steps[0]}`);
      runs.push(await runOne(impl, -1, runIndex++, { ...config, steps, profileDir: dir }));
    }
  }

  const summary: B2Result['summary'] = [];
  for (const impl of impls) {
    for (const requested of config.steps) {
      const steps = runs.filter((r) => r.impl === impl && r.rep >= 0).map((r) => r.steps.find((s) => s.requested === requested)!).filter(Boolean);
      if (steps.length === 0) continue;
      const baseRuns = runs.filter((r) => r.impl === impl && r.rep >= 0);
      summary.push({
        impl, requested, peers: Math.min(...steps.map((s) => s.peers)),
        cpuPct: summarize(steps.map((s) => s.window.cpuPct)),
        userPct: summarize(steps.map((s) => s.window.userPct)),
        systemPct: summarize(steps.map((s) => s.window.systemPct)),
        perSecondPct: summarize(steps.flatMap((s) => s.window.perSecondPct)),
        heapPerPeerBytes: summarize(steps.map((s) => s.heapPerPeerBytes)),
        marginalHeapPerPeerBytes: summarize(steps.map((s) => s.marginalHeapPerPeerBytes ?? NaN)),
        rssPerPeerBytes: summarize(steps.map((s) => s.rssPerPeerBytes)),
        timers: summarize(steps.map((s) => s.timers)),
        baselineTimers: Math.max(...baseRuns.map((r) => r.baseline.timers)),
        falseLost: Math.max(...steps.map((s) => s.lostSoFar)),
        suspect: Math.max(...steps.map((s) => s.suspectSoFar)),
      });
    }
  }
  const result: B2Result = {
    benchmark: 'b2', machine, config, runs, summary,
    targets: { peers: 20000, cpuPctMax: 15, heapPerPeerBytesMax: 4096, falseLost: 0, timers: 'constant in N' },
    durationMs: Date.now() - started,
  };
  writeResult(options.out ?? 'b2', result);
  return result;
}

if (isMain(import.meta.url)) {
  const steps = argValue('steps')?.split(',').map(Number);
  const reps = argValue('reps') ? Number(argValue('reps')) : undefined;
  const r = await runB2({
    baseline: argValue('b2-baseline'),
    variants: argValue('variants') ? Object.fromEntries(argValue('variants')!.split(',').map((x) => x.split('=') as [string, string])) : undefined,
    windowMs: argValue('window-ms') ? Number(argValue('window-ms')) : undefined,
    settleMs: argValue('settle-ms') ? Number(argValue('settle-ms')) : undefined,
    quick: hasFlag('--quick'), profile: !hasFlag('--no-profile'), steps, reps,
    impls: argValue('impls')?.split(',') as Impl[] | undefined,
    out: argValue('out'),
  });
  renderResults();
  log(`b2 done in ${(r.durationMs / 1000).toFixed(0)} s`);
  process.exit(0);
}
