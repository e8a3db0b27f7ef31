/**
 * B1 — request/reply throughput: HeartbeatServer + HeartbeatClient against stock ServerTCP + ClientTCP.
 *
 *   node --import tsx bench/b1-throughput.ts [--rounds=7] [--quick] [--no-profile] [--baseline=<dir> --out=b1-before-after]
 *
 * Server and client run in separate processes (bench/b1/echo-server.ts, bench/b1/echo-client.ts),
 * one pair per implementation, all started up front and kept running; measurements alternate
 * between the implementations (ours first in even rounds, stock first in odd rounds) so both see
 * the same machine noise. Each measurement: 300 ms warm-up, then `durationMs` of closed-loop
 * load with 1, 16 or 128 requests in flight (`@MessagePattern('echo')`, ~100-byte payload),
 * or fire-and-forget events (`@EventPattern`) emitted as fast as the socket drains.
 * The server's CPU time is read before and after each measurement.
 *
 * `--baseline=<dir>`: also measure the library of another checkout (e.g. `git worktree add
 * /tmp/nh-base <commit>`, with node_modules linked) as a third implementation `baseline`; the
 * b1 scripts are copied into it and run there.
 *
 * Unless --no-profile, a short profiling pass (--cpu-prof) follows at 128 in flight, for both
 * implementations, server and client, summarised by area and by function.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  argValue, BENCH_DIR, hasFlag, isMain, log, machineInfo, REPO_DIR, PROFILES_DIR, summarize, writeResult,
} from './lib/common.js';
import { summarizeProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { Child } from './lib/proc.js';
import { renderResults } from './lib/report.js';
import type { B1Impl, B1Mode, B1Result, B1Sample, B1Summary } from './lib/results.js';
import { PAYLOAD } from './b1/payload.js';

const MODES: B1Mode[] = ['c1', 'c16', 'c128', 'events'];
/**
 * 1 in flight is wake-up bound: its req/s flips between two levels on this VM depending on whether the
 * cores were idle, so it gets three alternated pairs per round instead of one.
 */
const REPEATS: Record<B1Mode, number> = { c1: 3, c16: 1, c128: 1, events: 1 };

interface Variant {
  impl: B1Impl;
  /** Checkout whose bench/b1 scripts and src/ are run. */
  root: string;
  /** Which transport the scripts build. */
  kind: 'ours' | 'stock';
}

function scriptsIn(root: string) {
  return { server: join(root, 'bench', 'b1', 'echo-server.ts'), client: join(root, 'bench', 'b1', 'echo-client.ts') };
}

async function startPair(v: Variant, execArgv: string[] = [], profileDir?: string) {
  const { server: serverScript, client: clientScript } = scriptsIn(v.root);
  const prof = (what: string) => {
    if (!profileDir) return [];
    mkdirSync(join(profileDir, `${v.impl}-${what}`), { recursive: true });
    return ['--cpu-prof', '--cpu-prof-dir', join(profileDir, `${v.impl}-${what}`)];
  };
  const server = new Child(serverScript, [v.kind], { cwd: v.root, execArgv: [...execArgv, ...prof('server')], label: `b1-${v.impl}-server` });
  const ready = await server.ready();
  const client = new Child(clientScript, [v.kind, String(ready.port)], { cwd: v.root, execArgv: [...execArgv, ...prof('client')], label: `b1-${v.impl}-client` });
  await client.ready();
  return { server, client };
}

async function measureOnce(pair: { server: Child; client: Child }, mode: B1Mode, warmupMs: number, durationMs: number) {
  const cmd = mode === 'events'
    ? { cmd: 'events', warmupMs, durationMs }
    : { cmd: 'rr', concurrency: Number(mode.slice(1)), warmupMs, durationMs };
  const c0 = await pair.server.request<NodeJS.CpuUsage>({ cmd: 'cpu' });
  const out = await pair.client.request<any>(cmd, 60_000);
  const c1 = await pair.server.request<NodeJS.CpuUsage>({ cmd: 'cpu' });
  const serverUs = (c1.user + c1.system) - (c0.user + c0.system);
  // Server CPU covers warm-up too, so divide by everything it served in that time.
  const served = mode === 'events' ? out.warmupEmitted + out.received : out.total;
  const measured = mode === 'events' ? out.received : out.completed;
  return {
    rps: out.rps as number,
    p50: out.p50 as number | undefined,
    p99: out.p99 as number | undefined,
    serverCpuUsPerReq: serverUs / Math.max(1, served),
    clientCpuUsPerReq: (out.clientCpuMs * 1000) / Math.max(1, measured),
    raw: out,
  };
}

function prepareBaseline(dir: string): string {
  for (const need of ['src/index.ts', 'tsconfig.json', 'package.json', 'node_modules']) {
    if (!existsSync(join(dir, need))) throw new Error(`--baseline=${dir}: ${need} is missing`);
  }
  mkdirSync(join(dir, 'bench'), { recursive: true });
  cpSync(join(BENCH_DIR, 'b1'), join(dir, 'bench', 'b1'), { recursive: true });
  cpSync(join(BENCH_DIR, 'lib'), join(dir, 'bench', 'lib'), { recursive: true });
  // What they import from lab/ (an older checkout may lack ports.ts).
  for (const f of ['ports.ts', 'child.ts']) cpSync(join(REPO_DIR, 'lab', f), join(dir, 'lab', f));
  return dir;
}

export async function runB1(options: {
  rounds?: number; quick?: boolean; profile?: boolean; baseline?: string; out?: string;
} = {}): Promise<B1Result> {
  const started = Date.now();
  const quick = options.quick ?? false;
  const rounds = options.rounds ?? (quick ? 2 : 7);
  const warmupMs = 300;
  const durationMs = quick ? 1000 : 1500;
  const variants: Variant[] = [
    { impl: 'ours', root: REPO_DIR, kind: 'ours' },
    { impl: 'stock', root: REPO_DIR, kind: 'stock' },
  ];
  if (options.baseline) variants.push({ impl: 'baseline', root: prepareBaseline(options.baseline), kind: 'ours' });
  const machine = machineInfo();
  const pairs = new Map<B1Impl, { server: Child; client: Child }>();
  const samples: B1Sample[] = [];
  try {
    for (const v of variants) pairs.set(v.impl, await startPair(v));
    log('b1: warm-up pass');
    for (const mode of MODES) for (const v of variants) await measureOnce(pairs.get(v.impl)!, mode, 200, 500);
    for (let round = 0; round < rounds; round++) {
      for (const mode of MODES) {
        for (let rep = 0; rep < REPEATS[mode]; rep++) {
          const order = (round + rep) % 2 === 0 ? variants : [...variants].reverse();
          for (const v of order) {
            const m = await measureOnce(pairs.get(v.impl)!, mode, warmupMs, durationMs);
            samples.push({ round, rep, impl: v.impl, mode, ...m });
          }
        }
      }
      const line = MODES.map((mode) => {
        const o = samples.find((s) => s.round === round && s.mode === mode && s.impl === 'ours')!;
        const st = samples.find((s) => s.round === round && s.mode === mode && s.impl === 'stock')!;
        return `${mode} ${Math.round(o.rps)}/${Math.round(st.rps)} (${(o.rps / st.rps).toFixed(2)})`;
      }).join('  ');
      log(`b1 round ${round + 1}/${rounds}: ours/stock req/s ${line}`);
    }
  } finally {
    for (const p of pairs.values()) {
      await p.client.stop(5000).catch(() => undefined);
      await p.server.stop(5000).catch(() => undefined);
    }
  }

  const summary: B1Summary[] = [];
  for (const v of variants) {
    for (const mode of MODES) {
      const mine = samples.filter((s) => s.impl === v.impl && s.mode === mode);
      const row: B1Summary = {
        impl: v.impl, mode,
        rps: summarize(mine.map((s) => s.rps)),
        p50: summarize(mine.map((s) => s.p50 ?? NaN)),
        p99: summarize(mine.map((s) => s.p99 ?? NaN)),
        serverCpuUsPerReq: summarize(mine.map((s) => s.serverCpuUsPerReq)),
        clientCpuUsPerReq: summarize(mine.map((s) => s.clientCpuUsPerReq)),
      };
      if (v.impl !== 'stock') {
        row.ratioToStock = summarize(mine.map((s) => {
          const st = samples.find((x) => x.impl === 'stock' && x.mode === mode && x.round === s.round && x.rep === s.rep);
          return st ? s.rps / st.rps : NaN;
        }));
      }
      summary.push(row);
    }
  }

  let profiles: Record<string, ProfileSummary> | undefined;
  if (options.profile !== false) profiles = await profilePass(variants.filter((v) => v.impl !== 'baseline'), quick);

  const result: B1Result = {
    benchmark: 'b1', machine,
    config: { rounds, repeats: REPEATS, warmupMs, durationMs, payloadBytes: JSON.stringify(PAYLOAD).length, modes: MODES, impls: variants.map((v) => v.impl) },
    samples, summary, profiles, durationMs: Date.now() - started,
  };
  writeResult(options.out ?? 'b1', result);
  return result;
}

/** --cpu-prof of server and client at 128 in flight; the profiles cover start-up too, so the load runs long enough to dominate. */
async function profilePass(variants: Variant[], quick: boolean): Promise<Record<string, ProfileSummary>> {
  const dir = join(PROFILES_DIR, 'b1');
  rmSync(dir, { recursive: true, force: true });
  const out: Record<string, ProfileSummary> = {};
  for (const v of variants) {
    log(`b1: profiling ${v.impl} at 128 in flight`);
    const pair = await startPair(v, [], dir);
    await measureOnce(pair, 'c128', 300, quick ? 1500 : 3000);
    await pair.client.stop(10_000);
    await pair.server.stop(10_000);
    for (const what of ['server', 'client']) {
      const d = join(dir, `${v.impl}-${what}`);
      const file = readdirSync(d).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        out[`${v.impl}-${what}`] = summarizeProfile(join(d, file), 15,
          ['getRouteFromPattern', 'handleMessage', 'handleData', 'writeGeneric', 'writevGeneric', 'handleSend', 'emitMessage', 'handleResponse', 'publish']);
      }
    }
  }
  return out;
}

if (isMain(import.meta.url)) {
  const rounds = argValue('rounds') ? Number(argValue('rounds')) : undefined;
  const r = await runB1({ rounds, quick: hasFlag('--quick'), profile: !hasFlag('--no-profile'), baseline: argValue('baseline'), out: argValue('out') });
  renderResults();
  log(`b1 done in ${(r.durationMs / 1000).toFixed(0)} s`);
  process.exit(0);
}
