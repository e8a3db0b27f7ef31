/**
 * B8 — a rolling restart under load: two instances of a service behind one address are
 * replaced one after the other while callers send 200 requests/s; how many requests fail?
 *
 *   node --import tsx bench/b8-rolling-restart.ts [--quick] [--reps=3] [--impls=ours,stock]
 *
 * Per (implementation, repetition): a Service (lab/tcp-balancer.ts: one address, round robin
 * over its endpoints, as kube-proxy) in this process; two server processes (bench/b8/rr-server.ts,
 * `@MessagePattern('work')` answering after 50 ms) as its endpoints; one load process
 * (bench/b8/rr-load.ts) with 8 callers, each its own connection through the Service (so 4 on
 * each instance), sending 200 requests/s in all, open loop. After a warm-up each instance is
 * replaced as a Kubernetes rolling update does it (maxSurge 1, maxUnavailable 0): the
 * replacement starts and, once it listens, joins the endpoints; the old one leaves the
 * endpoints, then gets SIGTERM (Nest's shutdown hooks: `app.close()`) and exits. Every request
 * is counted: answered, failed (by error), or unanswered 10 s after the sending stopped.
 *
 * ours: HeartbeatServer / one HeartbeatClient per caller (its own nodeId), `waitForReadyMs`
 * 2000 (a request made while the caller reconnects waits for the link instead of failing).
 * stock: Transport.TCP (ServerTCP) / ClientTCP, which connects again on the next send.
 */
import { join } from 'node:path';
import { TcpBalancer } from '../lab/tcp-balancer.js';
import { argValue, BENCH_DIR, hasFlag, isMain, log, machineInfo, quantileSorted, sleep, summarize, writeResult } from './lib/common.js';
import { Child } from './lib/proc.js';
import type { B8Impl, B8Restart, B8Result, B8Run } from './lib/results.js';
import { renderResults } from './lib/report.js';

const SERVER = join(BENCH_DIR, 'b8', 'rr-server.ts');
const LOAD = join(BENCH_DIR, 'b8', 'rr-load.ts');

interface Config { rate: number; callers: number; workMs: number; warmupMs: number; settleMs: number; waitForReadyMs: number }

type Rec = [number, number, string];

function latency(recs: Rec[]) {
  const ms = recs.filter((r) => r[1] >= 0).map((r) => r[1]).sort((a, b) => a - b);
  return { n: ms.length, p50: quantileSorted(ms, 0.5), p99: quantileSorted(ms, 0.99), max: ms.length ? ms[ms.length - 1] : NaN };
}

async function runOne(impl: B8Impl, rep: number, cfg: Config): Promise<B8Run> {
  const service = await TcpBalancer.start();
  const children: Child[] = [];
  const startServer = async (name: string) => {
    const t0 = Date.now();
    const child = new Child(SERVER, [impl, name, String(cfg.workMs)], { label: `b8-${impl}-${name}` });
    children.push(child);
    const ready = await child.ready(60_000);
    return { name, child, endpoint: { host: '127.0.0.1', port: ready.port as number }, bootMs: Date.now() - t0 };
  };
  try {
    const instances = await Promise.all(['a1', 'b1'].map((n) => startServer(`${impl}-${n}`)));
    for (const s of instances) service.add(s.endpoint);
    const load = new Child(LOAD, [impl, service.address.host, String(service.address.port), String(cfg.callers), String(cfg.waitForReadyMs)], { label: `b8-${impl}-load` });
    children.push(load);
    await load.ready(60_000);
    const t0 = Date.now();
    await load.request({ cmd: 'start', rate: cfg.rate });
    await sleep(cfg.warmupMs);

    const restarts: B8Restart[] = [];
    const windows: Array<[number, number]> = [];
    for (const [k, old] of instances.entries()) {
      const replacement = await startServer(`${impl}-${k === 0 ? 'a2' : 'b2'}`);
      service.add(replacement.endpoint);
      service.remove(old.endpoint);
      const sigtermAt = Date.now();
      const served = old.child.waitFor((m) => m.evt === 'exit', 30_000, 'exit').catch(() => ({ served: NaN }));
      old.child.signal('SIGTERM');
      await Promise.race([old.child.exited, sleep(30_000)]);
      const exitMs = Date.now() - sigtermAt;
      windows.push([sigtermAt, sigtermAt + exitMs + 1000]);
      restarts.push({ old: old.name, replacement: replacement.name, bootMs: replacement.bootMs, exitMs, inFlightAtSigterm: NaN, servedByOld: (await served).served });
      log(`b8 ${impl} rep ${rep}: ${old.name} → ${replacement.name}: booted in ${replacement.bootMs} ms, old exited ${exitMs} ms after SIGTERM`);
      await sleep(cfg.settleMs);
    }
    const recs = await load.request<Rec[]>({ cmd: 'stop', settleMs: 10_000 }, 60_000);
    const elapsed = (Date.now() - t0) / 1000;
    windows.forEach(([from], k) => {
      restarts[k].inFlightAtSigterm = recs.filter((r) => r[0] < from && (r[1] < 0 || r[0] + r[1] > from)).length;
    });
    const failedRecs = recs.filter((r) => r[2] !== '');
    const errors: Record<string, number> = {};
    for (const r of failedRecs) errors[r[2].slice(0, 80)] = (errors[r[2].slice(0, 80)] ?? 0) + 1;
    const unanswered = recs.filter((r) => r[1] < 0).length;
    const during = recs.filter((r) => windows.some(([from, to]) => r[0] >= from && r[0] <= to));
    const all = latency(recs);
    const run: B8Run = {
      impl, rep, sent: recs.length, ok: recs.length - failedRecs.length - unanswered, failed: failedRecs.length, unanswered, errors,
      latencyMs: { p50: all.p50, p99: all.p99, max: all.max }, duringRestartsMs: latency(during),
      achievedRate: recs.length / elapsed, restarts, connections: Object.fromEntries(service.opened),
    };
    log(`b8 ${impl} rep ${rep}: ${run.sent} sent, ${run.failed} failed ${JSON.stringify(errors)}, ${unanswered} unanswered; `
      + `p99 ${all.p99.toFixed(0)} ms, max ${all.max.toFixed(0)} ms; during restarts p99 ${run.duringRestartsMs.p99.toFixed(0)} ms, max ${run.duringRestartsMs.max.toFixed(0)} ms; `
      + `in flight at SIGTERM ${restarts.map((r) => r.inFlightAtSigterm).join('/')}`);
    return run;
  } finally {
    for (const c of children.reverse()) await c.stop(10_000).catch(() => undefined);
    for (const c of children) c.killNow();
    await service.close();
  }
}

export async function runB8(options: { quick?: boolean; reps?: number; impls?: B8Impl[] } = {}): Promise<B8Result> {
  const started = Date.now();
  const quick = options.quick ?? false;
  const reps = options.reps ?? (quick ? 1 : 3);
  const impls = options.impls ?? ['ours', 'stock'];
  const cfg: Config = { rate: 200, callers: 8, workMs: 50, warmupMs: quick ? 2000 : 3000, settleMs: 2000, waitForReadyMs: 2000 };
  const machine = machineInfo();
  const runs: B8Run[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const impl of rep % 2 === 0 ? impls : [...impls].reverse()) {
      log(`b8: ${impl}, repetition ${rep + 1}/${reps}`);
      runs.push(await runOne(impl, rep, cfg));
    }
  }
  const summary: B8Result['summary'] = impls.map((impl) => {
    const rs = runs.filter((r) => r.impl === impl);
    const errors: Record<string, number> = {};
    for (const r of rs) for (const [e, n] of Object.entries(r.errors)) errors[e] = (errors[e] ?? 0) + n;
    return {
      impl, n: rs.length, errors,
      sent: rs.reduce((s, r) => s + r.sent, 0), failed: rs.reduce((s, r) => s + r.failed, 0), unanswered: rs.reduce((s, r) => s + r.unanswered, 0),
      failedPerRun: summarize(rs.map((r) => r.failed + r.unanswered)),
      p99Ms: summarize(rs.map((r) => r.latencyMs.p99)), maxMs: summarize(rs.map((r) => r.latencyMs.max)),
      restartP99Ms: summarize(rs.map((r) => r.duringRestartsMs.p99)), restartMaxMs: summarize(rs.map((r) => r.duringRestartsMs.max)),
      exitMs: summarize(rs.flatMap((r) => r.restarts.map((x) => x.exitMs))),
      inFlightAtSigterm: summarize(rs.flatMap((r) => r.restarts.map((x) => x.inFlightAtSigterm))),
    };
  });
  const result: B8Result = { benchmark: 'b8', machine, config: { reps, impls, ...cfg }, runs, summary, durationMs: Date.now() - started };
  writeResult('b8', result);
  return result;
}

if (isMain(import.meta.url)) {
  const reps = argValue('reps') ? Number(argValue('reps')) : undefined;
  const impls = argValue('impls')?.split(',') as B8Impl[] | undefined;
  const r = await runB8({ quick: hasFlag('--quick'), reps, impls });
  renderResults();
  log(`b8 done in ${(r.durationMs / 1000).toFixed(0)} s`);
  process.exit(0);
}
