/**
 * B7 — hostile load (issue 23): what peers that do not play by the rules cost a server, before
 * and after the limits, in the same run.
 *
 *   node --import tsx bench/b7-hostile-load.ts [--before=/work/wt-before] [--only=a,b,c] [--reps=1] [--quick] [--out=b7] [--churn-rates=max,1000]
 *     [--extra=name=/path/to/checkout]   (another library alongside before and after: a what-if change)
 *
 * *before*: the library at another checkout (the commit before the limits, with its own
 * node_modules); *after*: this checkout. Each scenario runs for both, alternated (the order flips
 * each repetition), each time with fresh processes: the server (bench/b7/hostile-server.ts, run
 * from the library's checkout, --expose-gc, fd limit raised), an honest HeartbeatClient peer in its
 * own process (bench/b7/honest-peer.ts) and one attacker process (bench/b7/attackers.ts).
 *
 * (a) big frames: 1,000 unauthenticated sockets (the server has an authToken) each announce a
 *     frame and trickle its body (4 KiB every 100 ms) without ever completing it: announced 4 MiB
 *     (the old maxFrameBytes, which is what a pre-handshake frame could be), and at the new
 *     pre-handshake cap (64 KiB). Server heap after GC before and 8 s into the attack, per socket;
 *     the honest peer's request round trip, heartbeat RTT and status meanwhile.
 * (b) churn: unique nodeIds, hello then FIN, as fast as one process drives 100 connections in
 *     flight (and again at a fixed 1,000 a second), for 2 minutes, then 70 s without churn. Phases: join (first minute: nothing has
 *     expired yet), expiry (second minute: the first departures reach retainMs while the churn goes
 *     on at the same rate), tail (no churn: only expiry). Retained peers, heap after GC at the
 *     phase ends, per-second samples, CPU and event-loop delay per phase.
 * (c) slowloris: 5,000 sockets that never finish a hello (a character a second); every second the
 *     ones the server closed are opened again. Accepts refused, sockets held, heap, the honest
 *     peer, and a second honest peer that starts 5 s into the attack: how long until it joins.
 *
 * Machine, load average and steal time (/proc/stat) are recorded around every run.
 */
import { join } from 'node:path';
import {
  argValue, BENCH_DIR, hasFlag, isMain, log, machineInfo, REPO_DIR, sleep, systemBetween, systemCpu, writeResult,
} from './lib/common.js';
import { Child } from './lib/proc.js';
import { renderResults } from './lib/report.js';
import type {
  B7Churn, B7BigFrames, B7Impl, B7Result, B7Slowloris, B7System,
} from './lib/results.js';
import { AUTH_TOKEN } from './b7/shared.js';

const SERVER = join(BENCH_DIR, 'b7', 'hostile-server.ts');
const HONEST = join(BENCH_DIR, 'b7', 'honest-peer.ts');
const ATTACKERS = join(BENCH_DIR, 'b7', 'attackers.ts');
const FD_WANTED = 65536;
const DEFAULT_BEFORE = '/work/wt-before';

interface Impl { name: B7Impl; root: string }

/** Source addresses for one run's attacker: a fresh block each run, so no TIME_WAIT of a previous run is in the way. */
let runIndex = Math.floor(Math.random() * 100);
function addresses(count: number): string[] {
  const block = runIndex++ % 200;
  return Array.from({ length: count }, (_, j) => `127.${77 + Math.floor(j / 200)}.${block}.${2 + (j % 200)}`);
}

/** Server, honest peer and attacker for one run; everything is stopped by `stop()`. */
async function startRig(impl: Impl, token: string | undefined) {
  const server = new Child(SERVER, [impl.root, token ?? ''], {
    cwd: impl.root, execArgv: ['--expose-gc'], fdLimit: FD_WANTED, label: `b7-${impl.name}-server`,
  });
  const children: Child[] = [server];
  const stop = async () => {
    for (const c of children.slice(1).reverse()) await c.stop(5000).catch(() => undefined);
    await server.stop(10_000).catch(() => undefined);
    for (const c of children) c.killNow();
  };
  try {
    const ready = await server.ready(60_000);
    const honest = new Child(HONEST, [impl.root, String(ready.port), 'b7-honest', token ?? ''], { cwd: impl.root, label: `b7-${impl.name}-honest` });
    children.push(honest);
    await honest.ready(60_000);
    await honest.waitFor((m) => m.evt === 'joined', 30_000, 'the honest peer joined');
    const attackers = new Child(ATTACKERS, [String(ready.port)], { fdLimit: FD_WANTED, label: `b7-${impl.name}-attackers` });
    children.push(attackers);
    await attackers.ready(30_000);
    // The honest peer's first RTT samples and the server's JIT warm-up out of the way.
    await sleep(2000);
    const late = (nodeId: string) => {
      const peer = new Child(HONEST, [impl.root, String(ready.port), nodeId, token ?? ''], { cwd: impl.root, label: `b7-${impl.name}-${nodeId}` });
      children.push(peer);
      return peer;
    };
    return { server, honest, attackers, port: ready.port as number, late, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

const until = (t0: number, ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));

/* ---------------- (a) ---------------- */
export const BIG_FRAME_VARIANTS = [
  { variant: 'announce-4MiB', announce: 4 * 1024 * 1024, bodyChars: 4 * 1024 * 1024 - 1 },
  { variant: 'at-64KiB-cap', announce: 64 * 1024, bodyChars: 64 * 1024 - 1 },
] as const;

async function runBigFrames(impl: Impl, rep: number, v: typeof BIG_FRAME_VARIANTS[number], o: { count: number; holdMs: number; afterMs: number }): Promise<B7BigFrames> {
  const sys0 = systemCpu();
  const rig = await startRig(impl, AUTH_TOKEN);
  try {
    const base = await rig.server.request({ cmd: 'gc' });
    await rig.honest.request({ cmd: 'mark' });
    await rig.server.request({ cmd: 'phase', name: 'attack' });
    const t0 = Date.now();
    const opened = await rig.attackers.request({
      cmd: 'bigframes', count: o.count, announce: v.announce, bodyChars: v.bodyChars, chunkChars: 4096, everyMs: 100, addresses: addresses(16),
    }, 120_000);
    await until(t0, o.holdMs);
    const honest = await rig.honest.request({ cmd: 'status' });
    const attackers = await rig.attackers.request({ cmd: 'status' });
    const phase = await rig.server.request({ cmd: 'phase' });
    const peak = await rig.server.request({ cmd: 'gc' });
    // Well past the handshake deadline (10 s) and the ticker's wheel (64 ticks of 100 ms, where a
    // closed link waits until its slot comes round): whatever was held must be gone.
    await until(t0, o.afterMs);
    const after = await rig.server.request({ cmd: 'gc' });
    const attackersAfter = await rig.attackers.request({ cmd: 'status' });
    const r: B7BigFrames = {
      impl: impl.name, rep, variant: v.variant, announce: v.announce, sockets: o.count, holdMs: o.holdMs,
      connectMs: opened.connectMs,
      heapBase: base.heapUsed, heapPeak: peak.heapUsed, heapAfter: after.heapUsed,
      rssBase: base.rss, rssPeak: peak.rss,
      heapGrowthPerSocketBytes: (peak.heapUsed - base.heapUsed) / o.count,
      rssGrowthPerSocketBytes: (peak.rss - base.rss) / o.count,
      serverAtPeak: { connections: peak.connections, pendingHandshakes: peak.pendingHandshakes, accepted: peak.accepted },
      serverAfter: { afterMs: o.afterMs, connections: after.connections, pendingHandshakes: after.pendingHandshakes },
      attackersAtPeak: {
        open: attackers.open, connected: attackers.connected, closedByServer: attackers.closedByServer,
        closedWithin500Ms: attackers.refusedAtAccept, bytesSent: attackers.bytesSent, errors: attackers.errors,
      },
      attackersAfter: { open: attackersAfter.open, closedByServer: attackersAfter.closedByServer, lifetimeMs: attackersAfter.lifetimeMs },
      serverPhase: phase,
      honest,
      system: systemBetween(sys0, systemCpu()),
    };
    log(`b7 a ${impl.name} ${v.variant}: heap +${((peak.heapUsed - base.heapUsed) / 2 ** 20).toFixed(1)} MiB `
      + `(${(r.heapGrowthPerSocketBytes / 1024).toFixed(1)} KiB/socket), sockets open at ${o.holdMs} ms ${attackers.open}, `
      + `closed by server ${attackers.closedByServer}; at ${o.afterMs} ms ${(after.heapUsed / 2 ** 20).toFixed(1)} MiB, ${after.connections} sockets; `
      + `honest ${honest.status} events ${JSON.stringify(honest.events)} echo p50/p99/max ${honest.echo.p50?.toFixed(2)}/${honest.echo.p99?.toFixed(2)}/${honest.echo.max?.toFixed(1)} ms `
      + `failed ${honest.echo.failed}; server cpu ${phase.cpuPct.toFixed(0)}% loop p99 ${phase.loopDelayMs.p99.toFixed(1)} ms`);
    return r;
  } finally {
    await rig.attackers.request({ cmd: 'stop' }).catch(() => undefined);
    await rig.stop();
  }
}

/* ---------------- (b) ---------------- */
async function runChurn(impl: Impl, rep: number, perSecond: number | null, o: { joinMs: number; expiryMs: number; tailMs: number; concurrency: number }): Promise<B7Churn> {
  const sys0 = systemCpu();
  const rig = await startRig(impl, undefined);
  try {
    const base = await rig.server.request({ cmd: 'gc' });
    await rig.honest.request({ cmd: 'mark' });
    await rig.attackers.request({ cmd: 'reset' });
    await rig.server.request({ cmd: 'phase', name: 'join' });
    await rig.attackers.request({ cmd: 'churn', concurrency: o.concurrency, perSecond, addresses: addresses(64) });
    const t0 = Date.now();
    await until(t0, o.joinMs);
    const join = await rig.server.request({ cmd: 'phase' });
    const heapJoin = await rig.server.request({ cmd: 'gc' }, 120_000);
    await rig.server.request({ cmd: 'phase', name: 'expiry' });
    const t1 = Date.now();
    await until(t1, o.expiryMs);
    const expiry = await rig.server.request({ cmd: 'phase' });
    const honestChurn = await rig.honest.request({ cmd: 'status' });
    const attackers = await rig.attackers.request({ cmd: 'stop' });
    void attackers;
    const attackerStats = await rig.attackers.request({ cmd: 'status' });
    const heapExpiry = await rig.server.request({ cmd: 'gc' }, 120_000);
    await rig.honest.request({ cmd: 'mark' });
    await rig.server.request({ cmd: 'phase', name: 'tail' });
    const t2 = Date.now();
    await until(t2, o.tailMs);
    const tail = await rig.server.request({ cmd: 'phase' });
    const honestTail = await rig.honest.request({ cmd: 'status' });
    const heapTail = await rig.server.request({ cmd: 'gc' }, 120_000);
    const series = await rig.server.request({ cmd: 'series' });
    const r: B7Churn = {
      impl: impl.name, rep, perSecond, config: o,
      heap: { base: base.heapUsed, afterJoin: heapJoin.heapUsed, afterExpiry: heapExpiry.heapUsed, afterTail: heapTail.heapUsed },
      gcMs: { afterJoin: heapJoin.gcMs, afterExpiry: heapExpiry.gcMs, afterTail: heapTail.gcMs },
      retained: { afterJoin: heapJoin.retained, afterExpiry: heapExpiry.retained, afterTail: heapTail.retained },
      tableSize: { afterJoin: heapJoin.tableSize, afterExpiry: heapExpiry.tableSize, afterTail: heapTail.tableSize },
      maxRetained: Math.max(...series.map((s: { retained: number }) => s.retained)),
      phases: { join, expiry, tail },
      attackers: { helloSent: attackerStats.helloSent, welcomed: attackerStats.welcomed, errors: attackerStats.errors, perSecond: attackerStats.perSecond, loopDelayMaxMs: attackerStats.loopDelayMaxMs },
      honest: { churn: honestChurn, tail: honestTail },
      series,
      system: systemBetween(sys0, systemCpu()),
    };
    const ph = (p: B7Churn['phases']['join']) => `${p.joinsPerSecond.toFixed(0)} joins/s cpu ${p.cpuPct.toFixed(0)}% `
      + `(${p.cpuUsPerJoin?.toFixed(0) ?? '–'} µs/join) loop p99 ${p.loopDelayMs.p99.toFixed(1)} max ${p.loopDelayMs.max.toFixed(0)} ms`;
    log(`b7 b ${impl.name} ${perSecond ? `${perSecond}/s` : 'max rate'}: join: ${ph(join)}; expiry: ${ph(expiry)}; tail: cpu ${tail.cpuPct.toFixed(1)}% loop p99 ${tail.loopDelayMs.p99.toFixed(1)} max ${tail.loopDelayMs.max.toFixed(0)} ms; `
      + `retained max ${r.maxRetained}, at phase ends ${heapJoin.retained}/${heapExpiry.retained}/${heapTail.retained}; heap MiB ${[base, heapJoin, heapExpiry, heapTail].map((h) => (h.heapUsed / 2 ** 20).toFixed(0)).join(' → ')}; `
      + `honest ${JSON.stringify(honestChurn.events)} ${JSON.stringify(honestTail.events)}`);
    return r;
  } finally {
    await rig.attackers.request({ cmd: 'stop' }).catch(() => undefined);
    await rig.stop();
  }
}

/* ---------------- (c) ---------------- */
async function runSlowloris(impl: Impl, rep: number, o: { count: number; durationMs: number; lateAtMs: number }): Promise<B7Slowloris> {
  const sys0 = systemCpu();
  const rig = await startRig(impl, AUTH_TOKEN);
  try {
    const base = await rig.server.request({ cmd: 'gc' });
    await rig.honest.request({ cmd: 'mark' });
    await rig.server.request({ cmd: 'phase', name: 'slowloris' });
    const t0 = Date.now();
    const opened = rig.attackers.request({ cmd: 'slowloris', count: o.count, trickleMs: 1000, redialEveryMs: 1000, addresses: addresses(16) }, 120_000);
    const polls: B7Slowloris['polls'] = [];
    const heaps: Array<{ t: number; heapUsed: number }> = [];
    let late: { joinedMs: number | null; startedAtMs: number } | undefined;
    let latePeer: Child | undefined;
    const lateJoined = (async () => {
      await until(t0, o.lateAtMs);
      latePeer = rig.late('b7-late-joiner');
      const startedAtMs = Date.now() - t0;
      const joined = await latePeer.waitFor((m) => m.evt === 'joined', o.durationMs - o.lateAtMs, 'late joiner').catch(() => null);
      late = { joinedMs: joined?.joinedMs ?? null, startedAtMs };
    })();
    for (let k = 1; Date.now() - t0 < o.durationMs; k++) {
      await until(t0, k * 1000);
      const [s, a] = await Promise.all([rig.server.request({ cmd: 'status' }), rig.attackers.request({ cmd: 'status' })]);
      polls.push({ t: Date.now() - t0, connections: s.connections, pendingHandshakes: s.pendingHandshakes, refusedAtAccept: s.refusedAtAccept, accepted: s.accepted, attackerOpen: a.open });
      if (k % 10 === 0) heaps.push({ t: Date.now() - t0, heapUsed: (await rig.server.request({ cmd: 'gc' })).heapUsed });
    }
    const phase = await rig.server.request({ cmd: 'phase' });
    const honest = await rig.honest.request({ cmd: 'status' });
    const attackers = await rig.attackers.request({ cmd: 'status' });
    const firstOpen = await opened;
    await lateJoined;
    const lateStatus = latePeer?.alive ? await latePeer.request({ cmd: 'status' }).catch(() => null) : null;
    const end = await rig.server.request({ cmd: 'gc' });
    const r: B7Slowloris = {
      impl: impl.name, rep, config: o,
      firstWave: firstOpen,
      heapBase: base.heapUsed, heaps, heapEnd: end.heapUsed,
      maxConnections: Math.max(...polls.map((p) => p.connections)),
      maxPendingHandshakes: polls.some((p) => p.pendingHandshakes !== null) ? Math.max(...polls.map((p) => p.pendingHandshakes ?? 0)) : null,
      maxAttackerOpen: Math.max(...polls.map((p) => p.attackerOpen)),
      polls,
      attackers: {
        dials: attackers.dials, connected: attackers.connected, closedWithin500Ms: attackers.refusedAtAccept, closedByServer: attackers.closedByServer,
        lifetimeMs: attackers.lifetimeMs, errors: attackers.errors, loopDelayMaxMs: attackers.loopDelayMaxMs,
      },
      serverPhase: phase,
      honest,
      lateJoiner: { ...(late ?? { joinedMs: null, startedAtMs: o.lateAtMs }), status: lateStatus?.status ?? null, events: lateStatus?.events ?? null },
      system: systemBetween(sys0, systemCpu()),
    };
    log(`b7 c ${impl.name}: server held up to ${r.maxConnections} sockets (pending ${r.maxPendingHandshakes ?? '–'}), attacker open up to ${r.maxAttackerOpen}, `
      + `refused at accept ${phase.refusedAtAccept} of ${phase.accepted} accepted; heap MiB ${(base.heapUsed / 2 ** 20).toFixed(1)} → ${heaps.map((h) => (h.heapUsed / 2 ** 20).toFixed(1)).join(' → ')}; `
      + `server cpu ${phase.cpuPct.toFixed(0)}% loop p99 ${phase.loopDelayMs.p99.toFixed(1)} ms; honest ${honest.status} ${JSON.stringify(honest.events)} `
      + `echo p99 ${honest.echo.p99?.toFixed(1)} ms failed ${honest.echo.failed}; late joiner joined after ${r.lateJoiner.joinedMs?.toFixed(0) ?? 'never'} ms`);
    return r;
  } finally {
    await rig.attackers.request({ cmd: 'stop' }).catch(() => undefined);
    await rig.stop();
  }
}

export async function runB7(options: {
  before?: string; only?: string[]; reps?: number; quick?: boolean; out?: string; churnRates?: Array<number | null>;
  /** Other libraries to run alongside (name → checkout), e.g. a what-if change in a scratch copy. */
  extra?: Impl[];
} = {}): Promise<B7Result> {
  const started = Date.now();
  const quick = options.quick ?? false;
  const impls: Impl[] = [{ name: 'before', root: options.before ?? DEFAULT_BEFORE }, { name: 'after', root: REPO_DIR }, ...(options.extra ?? [])];
  const config = {
    before: impls[0].root,
    extra: options.extra,
    reps: options.reps ?? 1,
    only: options.only ?? ['a', 'b', 'c'],
    bigFrames: { count: 1000, holdMs: 8000, afterMs: 20_000 },
    churn: quick ? { joinMs: 15_000, expiryMs: 15_000, tailMs: 10_000, concurrency: 100 } : { joinMs: 60_000, expiryMs: 60_000, tailMs: 70_000, concurrency: 100 },
    /** null: as fast as the attacker can; a number: that many joins a second in every phase, so phases compare at equal load. */
    churnRates: options.churnRates ?? [null, 1000],
    slowloris: quick ? { count: 5000, durationMs: 15_000, lateAtMs: 3000 } : { count: 5000, durationMs: 45_000, lateAtMs: 5000 },
  };
  const machine = machineInfo();
  const sys0 = systemCpu();
  const result: B7Result = { benchmark: 'b7', machine, config, bigFrames: [], churn: [], slowloris: [], durationMs: 0 };
  for (let rep = 0; rep < config.reps; rep++) {
    const order = rep % 2 === 0 ? impls : [...impls].reverse();
    if (config.only.includes('a')) {
      for (const v of BIG_FRAME_VARIANTS) for (const impl of order) result.bigFrames.push(await runBigFrames(impl, rep, v, config.bigFrames));
    }
    if (config.only.includes('c')) for (const impl of order) result.slowloris.push(await runSlowloris(impl, rep, config.slowloris));
    if (config.only.includes('b')) {
      for (const rate of config.churnRates) for (const impl of order) result.churn.push(await runChurn(impl, rep, rate, config.churn));
    }
  }
  result.system = systemBetween(sys0, systemCpu()) as B7System;
  result.durationMs = Date.now() - started;
  writeResult(options.out ?? 'b7', result);
  return result;
}

if (isMain(import.meta.url)) {
  const r = await runB7({
    before: argValue('before'), only: argValue('only')?.split(','), reps: argValue('reps') ? Number(argValue('reps')) : undefined,
    quick: hasFlag('--quick'), out: argValue('out'),
    churnRates: argValue('churn-rates')?.split(',').map((x) => (x === 'max' ? null : Number(x))),
    extra: argValue('extra')?.split(',').map((x) => ({ name: x.split('=')[0], root: x.split('=')[1] })),
  });
  renderResults();
  log(`b7 done in ${(r.durationMs / 1000).toFixed(0)} s`);
  process.exit(0);
}
