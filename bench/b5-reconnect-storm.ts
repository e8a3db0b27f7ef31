/**
 * B5 — the reconnect storm: a server holding N managed peers restarts and every peer reconnects
 * with HeartbeatClient's backoff and jitter.
 *
 *   node --import tsx bench/b5-reconnect-storm.ts [--quick] [--reps=1] [--steps=10000,20000] [--impls=ours,stock]
 *   … --b5-baseline=/work/wt-before --impls=baseline,ours --out=b5-limits   (adds `baseline`: the same server and
 *   control peer from a checkout before a change, with its own node_modules; the storm clients are this tree's)
 *   B5_PROFILE_DIR=/tmp/b5prof … (server and clients under --cpu-prof)
 *
 * Per (implementation, N, repetition): one server process (bench/b5/storm-server.ts, fd limit
 * raised as B2 does), two client processes with N/2 reconnecting peers each
 * (bench/b5/storm-clients.ts) and, for ours, a control peer process (bench/b5/control-peer.ts)
 * connected to a second HeartbeatServer in the server process. Once all N peers are back and
 * settled, the server restarts in-process (app.close(), a new app on the same port) and measures
 * itself until every peer is back: time, CPU per 100 ms, event-loop delay
 * (monitorEventLoopDelay), peers back per second, repeats and omissions.
 * ours: back = `joined` on the new server; stock (ServerTCP, ClientTCP's wire): back = the peer's
 * first request after the restart answered.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RECONNECT } from '../src/common/heartbeat.constants.js';
import { argValue, BENCH_DIR, hasFlag, isMain, log, machineInfo, sleep, summarize, writeResult, type Summary } from './lib/common.js';
import { Child } from './lib/proc.js';
import type { B5Impl, B5Restart, B5Result, B5Run } from './lib/results.js';
import { renderResults } from './lib/report.js';

const SERVER = join(BENCH_DIR, 'b5', 'storm-server.ts');
const CLIENTS = join(BENCH_DIR, 'b5', 'storm-clients.ts');
const CONTROL = join(BENCH_DIR, 'b5', 'control-peer.ts');
const FD_WANTED = 65536;
/** fds the server keeps for itself beyond the peers (stdio, epoll, two listening sockets, the control link, margin). */
const FD_RESERVE = 28;

/**
 * The kernel's accept-queue counters (TcpExt ListenOverflows / ListenDrops, /proc/net/netstat):
 * SYNs dropped because a listener's queue was full. Per network namespace, so other jobs on this
 * machine may add to them; read around each restart.
 */
function listenDrops(): { overflows: number; drops: number } {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/).map(Number);
    return { overflows: values[names.indexOf('ListenOverflows')] ?? NaN, drops: values[names.indexOf('ListenDrops')] ?? NaN };
  } catch {
    return { overflows: NaN, drops: NaN };
  }
}

async function waitUntil(what: string, pred: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function runOne(impl: B5Impl, rep: number, requested: number, runIndex: number, settleMs: number, baseline?: string): Promise<B5Run> {
  // B5_PROFILE_DIR=<dir>: the server runs under --cpu-prof (written when it exits), to explain a miss.
  const profileDir = process.env.B5_PROFILE_DIR;
  // baseline: the server and control peer of another checkout (the library before a change), run from there.
  const from = impl === 'baseline' ? baseline! : undefined;
  const script = (path: string) => (from ? join(from, 'bench', 'b5', path) : join(BENCH_DIR, 'b5', path));
  const protocol = impl === 'stock' ? 'stock' : 'ours';
  const server = new Child(script('storm-server.ts'), [protocol], {
    fdLimit: FD_WANTED, label: `b5-${impl}-server`, cwd: from, execArgv: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-interval=1000'] : [],
  });
  const children: Child[] = [server];
  try {
    const ready = await server.ready(60_000);
    const peers = Math.min(requested, ready.nofile - ready.fds - FD_RESERVE);
    let control: Child | undefined;
    if (protocol === 'ours') {
      control = new Child(from ? script('control-peer.ts') : CONTROL, [String(ready.controlPort)], { label: 'b5-control', cwd: from });
      children.push(control);
      await control.ready(60_000);
    }
    const clients = [0, 1].map((k) => new Child(CLIENTS, [protocol, String(ready.port), `b5-${runIndex}-${k}`], {
      fdLimit: FD_WANTED, label: `b5-${impl}-clients${k}`, execArgv: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/clients`, '--cpu-prof-interval=1000'] : [],
    }));
    children.push(...clients);
    await Promise.all(clients.map((c) => c.ready()));
    const t0 = Date.now();
    const half = Math.ceil(peers / 2);
    // Fresh source addresses per run and client (16 each: reconnects rotate through them).
    const addresses = (k: number) => Array.from({ length: 64 }, (_, j) => `127.${100 + (runIndex % 150)}.${k}.${2 + j}`);
    await Promise.all([
      clients[0].request({ cmd: 'connect', count: half, addresses: addresses(0) }, 300_000),
      clients[1].request({ cmd: 'connect', count: peers - half, addresses: addresses(1) }, 300_000),
    ]);
    await waitUntil(`${peers} peers on the ${impl} server`, async () => (await server.request({ cmd: 'status' })).back >= peers, 120_000);
    const connectMs = Date.now() - t0;
    await sleep(settleMs);
    if (control) {
      await waitUntil('the control peer alive', async () => (await control!.request({ cmd: 'status' })).status === 'alive', 30_000);
      await control.request({ cmd: 'mark' });
    }
    log(`b5 ${impl} rep ${rep} N=${peers}: connected in ${connectMs} ms; restarting`);
    await Promise.all(clients.map((c) => c.request({ cmd: 'mark' })));
    const drops0 = listenDrops();
    const restart = await server.request<B5Restart>({ cmd: 'restart', expected: peers, timeoutMs: 60_000 }, 120_000);
    const drops1 = listenDrops();
    const listenQueue = { overflows: drops1.overflows - drops0.overflows, drops: drops1.drops - drops0.drops };
    const clientStats = await Promise.all(clients.map((c) => c.request({ cmd: 'status' })));
    const controlStatus = control ? await control.request({ cmd: 'status' }) : undefined;
    log(`b5 ${impl} rep ${rep} N=${peers}: ${restart.back}/${peers} back ${restart.complete ? `in ${restart.allBackFromListeningMs?.toFixed(0)} ms after listening `
      + `(${restart.allBackFromRestartMs?.toFixed(0)} ms after the restart)` : 'NOT ALL'}; repeats ${restart.repeats}; cpu peak ${restart.cpuPeak100msPct.toFixed(0)}% `
      + `mean ${restart.cpuMeanPct.toFixed(0)}%; loop delay max ${restart.eventLoopDelayMs.max.toFixed(1)} ms; peak ${restart.handshakesPerSecondPeak}/s`
      + `; SYNs dropped (accept queue full) ${listenQueue.drops}; refused at accept ${restart.refusedAtAccept ?? '–'}; lost after joining ${JSON.stringify(restart.lossReasons)}; client loop delay max ${clientStats.map((c) => Math.round(c.loopDelayMaxMs)).join('/')} ms`
      + `${controlStatus ? `; control: ${JSON.stringify(controlStatus.events)} max silence ${controlStatus.maxSilenceMs} ms; control server saw ${JSON.stringify(restart.controlServerEvents)}` : ''}`);
    for (const c of clients) await c.request({ cmd: 'close' }).catch(() => undefined);
    return {
      impl, rep, requested, peers, connectMs, restart, missing: peers - restart.back, listenQueue,
      clients: clientStats.map((s) => ({
        dials: s.dials, closes: s.closes, maxAttempt: s.maxAttempt, errors: s.errors, open: s.open, loopDelayMaxMs: s.loopDelayMaxMs, loopDelayP99Ms: s.loopDelayP99Ms,
      })),
      control: controlStatus,
    };
  } finally {
    for (const c of children.slice(1)) await c.stop(5000).catch(() => undefined);
    await server.stop(15_000).catch(() => undefined);
    for (const c of children) c.killNow();
  }
}

export async function runB5(options: { quick?: boolean; reps?: number; steps?: number[]; impls?: B5Impl[]; baseline?: string; out?: string } = {}): Promise<B5Result> {
  const started = Date.now();
  const quick = options.quick ?? false;
  const config = {
    steps: options.steps ?? (quick ? [2000] : [10000, 20000]),
    // One repetition by default: a 19,950-peer run takes ~2 min on this machine.
    reps: options.reps ?? 1,
    settleMs: quick ? 1500 : 3000,
    reconnect: DEFAULT_RECONNECT,
    boundMs: DEFAULT_RECONNECT.maxDelayMs + 2000,
    suspectAfterMs: 1500,
  };
  const machine = machineInfo();
  const runs: B5Run[] = [];
  let runIndex = Math.floor(Math.random() * 100);
  for (let rep = 0; rep < config.reps; rep++) {
    const impls = options.impls ?? ['ours', 'stock'];
    const order: B5Impl[] = rep % 2 === 0 ? impls : [...impls].reverse();
    for (const requested of config.steps) {
      for (const impl of order) {
        log(`b5: ${impl}, N=${requested}, repetition ${rep + 1}/${config.reps}`);
        runs.push(await runOne(impl, rep, requested, runIndex++, config.settleMs, options.baseline));
      }
    }
  }
  const summary: B5Result['summary'] = [];
  for (const impl of ['baseline', 'ours', 'stock'] as B5Impl[]) {
    for (const requested of config.steps) {
      const rs = runs.filter((r) => r.impl === impl && r.requested === requested);
      if (rs.length === 0) continue;
      const nums = (f: (r: B5Run) => number | null | undefined) => rs.map((r) => f(r) ?? NaN);
      summary.push({
        impl, requested, peers: Math.min(...rs.map((r) => r.peers)), n: rs.length,
        complete: rs.filter((r) => r.restart.complete).length,
        allBackFromListeningMs: summarize(nums((r) => r.restart.allBackFromListeningMs)),
        allBackFromRestartMs: summarize(nums((r) => r.restart.allBackFromRestartMs)),
        cpuPeak100msPct: summarize(nums((r) => r.restart.cpuPeak100msPct)),
        cpuMeanPct: summarize(nums((r) => r.restart.cpuMeanPct)),
        eldMaxMs: summarize(nums((r) => r.restart.eventLoopDelayMs.max)),
        eldP99Ms: summarize(nums((r) => r.restart.eventLoopDelayMs.p99)),
        handshakesPerSecondPeak: summarize(nums((r) => r.restart.handshakesPerSecondPeak)),
        handshakesPerSecondMean: summarize(nums((r) => r.restart.handshakesPerSecondMean)),
        repeats: rs.reduce((s, r) => s + r.restart.repeats, 0),
        duplicates: rs.reduce((s, r) => s + r.restart.duplicates, 0),
        lostAfterJoining: rs.reduce((s, r) => s + r.restart.lostOrLeftAfterRestart, 0),
        missing: rs.reduce((s, r) => s + r.missing, 0),
        controlSuspect: rs.reduce((s, r) => s + (r.control?.events.suspect ?? 0) + (r.restart.controlServerEvents.suspect ?? 0), 0),
        controlLost: rs.reduce((s, r) => s + (r.control?.events.lost ?? 0) + (r.restart.controlServerEvents.lost ?? 0), 0),
        controlMaxSilenceMs: summarize(nums((r) => r.control?.maxSilenceMs)),
        listenDrops: summarize(nums((r) => r.listenQueue.drops)),
        refusedAtAccept: summarize(nums((r) => r.restart.refusedAtAccept)),
      });
    }
  }
  const result: B5Result = { benchmark: 'b5', machine, config: { ...config, baseline: options.baseline }, runs, summary, durationMs: Date.now() - started };
  writeResult(options.out ?? 'b5', result);
  return result;
}

if (isMain(import.meta.url)) {
  const steps = argValue('steps')?.split(',').map(Number);
  const reps = argValue('reps') ? Number(argValue('reps')) : undefined;
  const impls = argValue('impls')?.split(',') as B5Impl[] | undefined;
  const r = await runB5({ quick: hasFlag('--quick'), steps, reps, impls, baseline: argValue('b5-baseline'), out: argValue('out') });
  renderResults();
  log(`b5 done in ${(r.durationMs / 1000).toFixed(0)} s`);
  process.exit(0);
}
