/**
 * B6 — detection quality of service: how fast each detector convicts a dead peer (T_D) and how
 * often it accuses a live one (suspicions and false losses per peer-hour; Chen, Toueg and
 * Aguilera's T_D and λ_M), under network profiles.
 *
 *   node --import tsx bench/b6-detection-qos.ts [--window-min=8] [--procs=6] [--links=8] [--profiles=quiet,pauses] [--quick]
 *
 * A full run (5 profiles × ~10 min) takes about 55 minutes.
 *
 * Per profile: an observer process serving every detector of b6/detectors.ts, the lab's delaying
 * proxy (lab/delay-proxy.ts) in front of it, and `procs` peer processes (b6/peers.ts), each in its own network
 * namespace behind a veth pair, each holding `links` links to every detector through the proxy.
 *   1. fault-free window (`window-min`): every suspect and lost verdict on a live peer is a mistake;
 *   2. hangs: half the peer processes are SIGSTOPped (spread over 2 s), T_D = their links' lost
 *      verdict − the signal;
 *   3. cable pulls: the other half lose their veth link (namespace end down), T_D likewise.
 * Profiles: quiet (the proxy adds nothing); jitter 20 ms and jitter 100 ms (each chunk delayed by an
 * exponential draw of that mean, in order) — the latter with 1 % packet loss each way (nftables
 * `numgen random mod 100 < 1 drop` in each peer namespace); bursts (300 ms added to every chunk for
 * 1 s, at exponential intervals of mean 10 s per direction); pauses (each peer process
 * SIGSTOP/SIGCONT for 50–500 ms every 2–8 s, like a stop-the-world GC).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { jsonLine, LineProcess } from '../lab/child.js';
import { createNetPair, destroyAllNetPairs, netnsAvailable, type NetPair } from '../lab/netns.js';
import { argValue, BENCH_DIR, hasFlag, isMain, log, machineInfo, sleep, summarize, writeResult } from './lib/common.js';
import { Child } from './lib/proc.js';
import { renderResults } from './lib/report.js';
import type { B6DetectorRow, B6ProfileResult, B6Result } from './lib/results.js';
import { DelayProxy, type DelayProfile } from '../lab/delay-proxy-client.js';
import { DETECTORS } from './b6/detectors.js';
import { writePlot } from './b6/plot.js';

interface Profile {
  name: string;
  description: string;
  delay: DelayProfile;
  lossPct?: number;
  pauses?: { minMs: number; maxMs: number; everyMinMs: number; everyMaxMs: number };
}

export const PROFILES: Profile[] = [
  { name: 'quiet', description: 'no delay added (the proxy still in the path)', delay: { kind: 'none' } },
  { name: 'jitter-20', description: 'each chunk delayed by Exp(mean 20 ms), in order', delay: { kind: 'jitter', meanMs: 20 } },
  {
    name: 'jitter-100-loss-1', description: 'Exp(mean 100 ms) delay, 1 % packet loss each way (nftables)',
    delay: { kind: 'jitter', meanMs: 100 }, lossPct: 1,
  },
  {
    name: 'bursts-300', description: '+300 ms on every chunk for 1 s, bursts at Exp(mean 10 s) intervals per direction',
    delay: { kind: 'bursts', delayMs: 300, lastMs: 1000, everyMs: 10_000 },
  },
  {
    name: 'pauses', description: 'each peer process stopped 50–500 ms every 2–8 s (SIGSTOP/SIGCONT)',
    delay: { kind: 'none' }, pauses: { minMs: 50, maxMs: 500, everyMinMs: 2000, everyMaxMs: 8000 },
  },
];

const now = () => performance.timeOrigin + performance.now();
const uniform = (a: number, b: number) => a + Math.random() * (b - a);
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

interface Verdict { det: string; peer: string; type: string; reason?: string; t: number }

/** The observer: its verdict lines are collected as they come (they are not replies). */
class Observer {
  readonly verdicts: Verdict[] = [];
  private readonly lp: LineProcess<Record<string, any>>;
  private nextId = 1;

  constructor() {
    this.lp = new LineProcess<Record<string, any>>(join(BENCH_DIR, 'b6', 'observer.ts'), [], {
      label: 'b6-observer',
      parse: (line) => (line.startsWith('@@') ? jsonLine(line.slice(2)) : undefined),
      onMessage: (m) => {
        if (m.evt !== 'v') return true;
        this.verdicts.push(m as unknown as Verdict);
        return false;
      },
    });
  }

  async request<T>(cmd: string): Promise<T> {
    const id = this.nextId++;
    this.lp.send({ cmd, id });
    const reply = await this.lp.waitFor((m) => m.re === id, 60_000, cmd, true);
    if (reply.error) throw new Error(`observer ${cmd}: ${reply.error}`);
    return reply.result as T;
  }

  ready(): Promise<unknown> {
    return this.lp.waitFor((m) => m.evt === 'ready', 60_000, 'ready', true);
  }

  kill(): Promise<void> {
    return this.lp.kill();
  }
}

interface PeerProc { index: number; pair: NetPair; child: Child; tag: string; pausing: boolean; pauses: number[] }

async function applyLoss(pair: NetPair, pct: number): Promise<void> {
  const rules = `table inet b6 {
  chain in { type filter hook input priority 0; numgen random mod 100 < ${pct} drop; }
  chain out { type filter hook output priority 0; numgen random mod 100 < ${pct} drop; }
}`;
  execFileSync('ip', ['netns', 'exec', pair.name, 'nft', '-f', '-'], { input: rules });
}

/** Stops and resumes one peer process on a random schedule until `p.pausing` is cleared. */
async function pauseLoop(p: PeerProc, spec: NonNullable<Profile['pauses']>): Promise<void> {
  while (p.pausing) {
    await sleep(uniform(spec.everyMinMs, spec.everyMaxMs));
    if (!p.pausing) return;
    const t0 = now();
    p.child.signal('SIGSTOP');
    await sleep(uniform(spec.minMs, spec.maxMs));
    p.child.signal('SIGCONT');
    p.pauses.push(now() - t0);
  }
}

function peerIds(p: PeerProc, det: string, links: number): string[] {
  return Array.from({ length: links }, (_, i) => `${p.tag}/${det}/${i}`);
}

/** Link-hours each detector's links were connected within [from, to), from their joined/lost verdicts. */
function connectedHours(verdicts: Verdict[], det: string, ids: Set<string>, from: number, to: number): number {
  const since = new Map<string, number>();
  let ms = 0;
  for (const v of verdicts) {
    if (v.det !== det || !ids.has(v.peer) || v.t >= to) continue;
    if (v.type === 'joined') since.set(v.peer, v.t);
    else if ((v.type === 'lost' || v.type === 'left') && since.has(v.peer)) {
      const start = Math.max(from, since.get(v.peer)!);
      if (v.t > start) ms += v.t - start;
      since.delete(v.peer);
    }
  }
  for (const start of since.values()) ms += to - Math.max(from, start);
  return ms / 3_600_000;
}

async function runProfile(profile: Profile, opts: { windowMs: number; procs: number; links: number }): Promise<B6ProfileResult> {
  const loadStart = loadAverage();
  const startedAt = new Date().toISOString();
  log(`b6 ${profile.name}: load ${loadStart.join(' ')}`);
  const observer = new Observer();
  const peers: PeerProc[] = [];
  let proxy: DelayProxy | undefined;
  try {
    [proxy] = await Promise.all([DelayProxy.start(profile.delay), observer.ready()]);
    const upstream = await observer.request<Record<string, number>>('start');
    const ports = await proxy.listen(DETECTORS.map((d) => ({ name: d.name, port: upstream[d.name] })));
    for (let i = 0; i < opts.procs; i++) {
      const pair = await createNetPair();
      if (profile.lossPct) await applyLoss(pair, profile.lossPct);
      const tag = `${profile.name}-p${i}`;
      const child = new Child(join(BENCH_DIR, 'b6', 'peers.ts'), [tag, pair.hostAddress, JSON.stringify(ports), String(opts.links)],
        { label: tag, netns: pair.name });
      peers.push({ index: i, pair, child, tag, pausing: false, pauses: [] });
      await child.ready(60_000);
    }
    // Every link joined (reconnects included), then a settling time: adaptive warms up in 8 gaps.
    const expected = DETECTORS.length * opts.procs * opts.links;
    const deadline = Date.now() + 120_000;
    const joined = () => new Set(observer.verdicts.filter((v) => v.type === 'joined').map((v) => `${v.det}|${v.peer}`)).size;
    while (joined() < expected && Date.now() < deadline) await sleep(500);
    log(`b6 ${profile.name}: ${joined()}/${expected} links joined`);
    await sleep(20_000);
    await observer.request('stats');
    await proxy.stats();

    // 1. Fault-free window.
    const from = now();
    if (profile.pauses) for (const p of peers) { p.pausing = true; void pauseLoop(p, profile.pauses); }
    await sleep(opts.windowMs);
    for (const p of peers) p.pausing = false;
    const to = now();
    const windowLoad = loadAverage();
    const observerStats = await observer.request<{ loopDelayMs: { p99: number; max: number } }>('stats');
    const proxyStats = await proxy.stats();
    await sleep(600); // the last pause has ended

    // 2. Hangs, 3. cable pulls: half the processes each, faulted at random offsets within 2 s.
    const half = Math.floor(opts.procs / 2);
    const hangs = peers.slice(0, half);
    const cables = peers.slice(half);
    const faultAt = new Map<string, { t: number; fault: 'hang' | 'cable' }>();
    const inflict = (group: PeerProc[], fault: 'hang' | 'cable') => Promise.all(group.map(async (p) => {
      await sleep(Math.random() * 2000);
      const t = now();
      faultAt.set(p.tag, { t, fault });
      if (fault === 'hang') p.child.signal('SIGSTOP');
      else await p.pair.linkDown();
    }));
    const FAULT_WAIT_MS = 12_000; // > every detector's bound (fixed-2000: 8 s) + the spread
    await inflict(hangs, 'hang');
    await sleep(FAULT_WAIT_MS);
    await inflict(cables, 'cable');
    await sleep(FAULT_WAIT_MS);
    const loadEnd = loadAverage();

    const rows: B6DetectorRow[] = DETECTORS.map((d) => {
      const ids = new Set(peers.flatMap((p) => peerIds(p, d.name, opts.links)));
      const inWindow = observer.verdicts.filter((v) => v.det === d.name && ids.has(v.peer) && v.t >= from && v.t < to);
      const hours = connectedHours(observer.verdicts, d.name, ids, from, to);
      const lostReasons: Record<string, number> = {};
      for (const v of inWindow) if (v.type === 'lost') lostReasons[v.reason ?? '?'] = (lostReasons[v.reason ?? '?'] ?? 0) + 1;
      const td = (fault: 'hang' | 'cable') => {
        const samples: number[] = [];
        const lastVerdicts: string[] = [];
        let missed = 0;
        for (const p of fault === 'hang' ? hangs : cables) {
          const f = faultAt.get(p.tag)!;
          for (const id of peerIds(p, d.name, opts.links)) {
            const v = observer.verdicts.find((x) => x.det === d.name && x.peer === id && x.type === 'lost' && x.t >= f.t);
            if (v) samples.push(Math.round((v.t - f.t) * 10) / 10);
            else {
              missed++;
              // What the observer last said of it, relative to the fault (ms), to tell why later.
              const last = observer.verdicts.filter((x) => x.det === d.name && x.peer === id).slice(-3);
              if (lastVerdicts.length < 5) lastVerdicts.push(`${id}: ${last.map((x) => `${x.type}${x.reason ? ` ${x.reason}` : ''} ${Math.round(x.t - f.t)}`).join(', ')}`);
            }
          }
        }
        return { samples, summary: summarize(samples), missed, ...(lastVerdicts.length ? { lastVerdicts } : {}) };
      };
      return {
        detector: d.name, family: d.family, intervalMs: d.intervalMs, boundMs: d.boundMs,
        links: ids.size, linkHours: hours,
        suspicions: inWindow.filter((v) => v.type === 'suspect').length,
        falseLosses: inWindow.filter((v) => v.type === 'lost').length,
        lostReasons,
        hang: td('hang'),
        cable: td('cable'),
      };
    });
    for (const r of rows) {
      log(`b6 ${profile.name} ${r.detector}: ${r.linkHours.toFixed(2)} link-h, ${r.suspicions} suspicions, ${r.falseLosses} false losses; `
        + `T_D hang ${r.hang.summary.median.toFixed(0)}/${r.hang.summary.max.toFixed(0)} ms (${r.hang.missed} missed), `
        + `cable ${r.cable.summary.median.toFixed(0)}/${r.cable.summary.max.toFixed(0)} ms (${r.cable.missed} missed)`);
    }
    const pauses = peers.flatMap((p) => p.pauses);
    return {
      profile: profile.name, startedAt, description: profile.description, windowMs: to - from, procs: opts.procs, linksPerDetectorPerProc: opts.links,
      loadAverage: { start: loadStart, window: windowLoad, end: loadEnd },
      observerLoopDelayMs: observerStats.loopDelayMs, proxyLoopDelayMs: proxyStats.loopDelayMs,
      pausesMs: pauses.length ? summarize(pauses) : undefined, pauseCount: pauses.length,
      rows,
    };
  } finally {
    for (const p of peers) p.pausing = false;
    for (const p of peers) p.child.killNow();
    await proxy?.kill();
    await observer.kill();
    await destroyAllNetPairs();
  }
}

export async function runB6(options: { windowMs: number; procs: number; links: number; profiles: string[] }): Promise<B6Result> {
  const started = Date.now();
  const avail = await netnsAvailable();
  if (!avail.ok) throw new Error(`B6 needs network namespaces: ${avail.reason}`);
  const machine = machineInfo();
  const previous = (() => {
    try {
      return JSON.parse(readFileSync(join(BENCH_DIR, 'results', 'b6.json'), 'utf8')) as B6Result;
    } catch {
      return undefined;
    }
  })();
  const profiles: B6ProfileResult[] = [];
  for (const name of options.profiles) {
    const profile = PROFILES.find((p) => p.name === name);
    if (!profile) throw new Error(`unknown profile ${name}`);
    profiles.push(await runProfile(profile, options));
    // Profiles run one at a time; keep the others of an earlier run (a run of some profiles only).
    const kept = (previous?.profiles ?? []).filter((p) => !profiles.some((q) => q.profile === p.profile));
    const result: B6Result = {
      benchmark: 'b6', machine, config: { ...options, detectors: DETECTORS },
      profiles: [...profiles, ...kept].sort((a, b) => PROFILES.findIndex((p) => p.name === a.profile) - PROFILES.findIndex((p) => p.name === b.profile)),
      durationMs: Date.now() - started,
    };
    writeResult('b6', result);
    writePlot(result);
  }
  return JSON.parse(readFileSync(join(BENCH_DIR, 'results', 'b6.json'), 'utf8')) as B6Result;
}

if (isMain(import.meta.url)) {
  // --quick (npm run bench -- --quick): a smoke run, not a measurement.
  const quick = hasFlag('--quick');
  const r = await runB6({
    windowMs: Number(argValue('window-min') ?? (quick ? 1 : 8)) * 60_000,
    procs: Number(argValue('procs') ?? (quick ? 2 : 6)),
    links: Number(argValue('links') ?? (quick ? 2 : 8)),
    profiles: argValue('profiles')?.split(',') ?? PROFILES.map((p) => p.name),
  });
  renderResults();
  log(`b6 done in ${(r.durationMs / 1000).toFixed(0)} s`);
  process.exit(0);
}
