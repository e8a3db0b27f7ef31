/// <reference lib="dom" />
/**
 * B9 — the presence page at 1,000 peers (issue 22): how smoothly the page scrolls while the table
 * changes, and what open pages cost the server.
 *
 *   node --import tsx bench/b9-dashboard-load.ts [--reps=3] [--quick] [--pages=20] [--out=b9]
 *
 * Per repetition, fresh processes: the hybrid app of the browser spec (test/fixtures/dashboard-app.ts,
 * Express, default heartbeat) in its own process, 1,000 real peers over TCP from one swarm process
 * (test/fixtures/swarm.ts, via test/cluster/support/rig.ts `startSwarm`), a headless Chromium
 * (test/support/chromium.ts). One change a second throughout (a peer dropped without goodbye,
 * back the next second).
 * - Frame times: one page, requestAnimationFrame deltas over 4 s while it scrolls through the
 *   table 60 px a frame; median, p99 and max.
 * - Server CPU: the app process's CPU time (all threads, schedstat) over 5 s windows: no page,
 *   then 20 pages open, then no page again; added = with − mean(the two without), so a drift of
 *   the machine's load during the rep does not count as the pages'.
 * Load average, steal and busy time of the machine (/proc/stat) are recorded per rep and per window.
 * This measurement was part of test/dashboard/dashboard-browser.spec.ts until B9; its runs are kept
 * in bench/results/dashboard.json (same method), shown as earlier runs.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { jsonLine, killAllChildren, killAllChildrenNow, LineProcess } from '../lab/child.js';
import { startSwarm } from '../test/cluster/support/rig.js';
import type { DashboardAppConfig } from '../test/fixtures/dashboard-app.js';
// Nearest rank, as the test computed it, so these figures compare with the spec's earlier runs.
import { percentile } from '../test/support/apps.js';
import { CHROMIUM, launchChromium, openDashboardPage } from '../test/support/chromium.js';
import {
  argValue, hasFlag, isMain, log, machineInfo, REPO_DIR, sleep, summarize, systemBetween, systemCpu, writeResult,
  type MachineInfo, type Summary, type SystemCpu,
} from './lib/common.js';
import { renderResults } from './lib/report.js';
import type { B9Config, B9Result, B9Run, B9System } from './lib/results.js';

const FIXTURE = join(REPO_DIR, 'test', 'fixtures', 'dashboard-app.ts');

/** The method, as bench/results/dashboard.json stated it when the test took these figures. */
const method = (c: B9Config, chromium: string) => [
  `A hybrid Nest app (test/fixtures/dashboard-app.ts, Express, heartbeat interval 1000 ms) in its own process; ${c.peers.toLocaleString('en-US')} real peers over TCP from one swarm process (test/fixtures/swarm.ts), one change a second (a peer dropped without goodbye, then back).`,
  `Frame time: in ${chromium} (headless, software raster), requestAnimationFrame deltas over ${c.frameWindowMs / 1000} s while the page scrolls through the table 60 px a frame; median and p99 of the deltas (16.7 ms = 60 frames a second).`,
  `Server CPU: the app process's CPU time (all threads, /proc/<pid>/task/*/schedstat: user and system, in ns) over ${c.cpuWindowMs / 1000} s windows: no page open, then ${c.pages} pages open (${c.pages / c.pagesPerContext} browser contexts of ${c.pagesPerContext}: a browser holds at most 6 HTTP/1.1 connections to a host), then no page again; added = with − mean(without before, without after), in % of one core.`,
  `Fresh app, swarm and browser for each of ${c.reps} repetition(s); figures are medians (min–max) across them; load average, steal and busy time (/proc/stat) recorded per repetition and per window.`,
];

/** CPU time of a process, all its threads, in ns (schedstat: user and system, to the nanosecond). */
function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

/** The server's CPU over `ms`, in % of one core, and what the machine did meanwhile. */
async function cpuWindow(pid: number, ms: number): Promise<{ percent: number; system: B9System }> {
  const sys0: SystemCpu = systemCpu();
  const start = cpuNs(pid);
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const wallNs = Number(process.hrtime.bigint() - t0);
  const percent = ((cpuNs(pid) - start) / wallNs) * 100;
  return { percent, system: systemBetween(sys0, systemCpu()) };
}

const round = (n: number) => Math.round(n * 100) / 100;

/** requestAnimationFrame deltas over `ms` while the page scrolls through the table (back to the top at its end). */
const frameDeltas = (page: Page, ms: number) => page.evaluate((ms) => new Promise<number[]>((resolve) => {
  const out: number[] = [];
  let last = performance.now();
  const end = last + ms;
  const scroller = document.scrollingElement!;
  const step = (t: number) => {
    out.push(t - last);
    last = t;
    scroller.scrollTop = scroller.scrollTop + innerHeight >= scroller.scrollHeight - 1 ? 0 : scroller.scrollTop + 60;
    if (t < end) requestAnimationFrame(step);
    else resolve(out);
  };
  requestAnimationFrame(step);
}), ms);

async function runOne(rep: number, c: B9Config): Promise<B9Run> {
  const sys0 = systemCpu();
  const config: DashboardAppConfig = { adapter: 'express', heartbeat: { nodeId: `b9-gateway-${rep}` } };
  const app = new LineProcess<Record<string, any>>(FIXTURE, [JSON.stringify(config)], { label: 'b9 dashboard-app', parse: jsonLine });
  const swarm = startSwarm();
  const chromium = await launchChromium();
  let changer: NodeJS.Timeout | undefined;
  try {
    const [ready] = await Promise.all([app.waitFor((l) => l.evt === 'ready', 60_000, 'ready'), swarm.waitFor((l) => l.evt === 'ready', 30_000, 'ready')]);
    const url = `http://127.0.0.1:${ready.httpPort}/heartbeat`;
    const port = ready.port as number;
    const ids = Array.from({ length: c.peers }, (_, i) => `node-${String(i + 1).padStart(4, '0')}`);
    const services = ['orders', 'billing', 'search', 'auth', 'mail'];
    for (const [i, id] of ids.entries()) {
      swarm.command({ cmd: 'connect', id, port, meta: { service: services[i % 5], region: i % 3 ? 'eu-west' : 'us-east', shard: String(i % 16) } });
      if (i % 200 === 199) await sleep(200); // under the server's 1,000 pending handshakes
    }
    const errors: string[] = [];
    const page = await openDashboardPage(chromium.browser, url, errors, { width: 1440, height: 900 }, 10_000);
    await page.waitForFunction((n) => document.getElementById('counts')?.textContent?.startsWith(`${n} alive`), { timeout: 30_000 }, c.peers);
    const rowsInDocument = await page.$$eval('#peers .body .row', (rows) => rows.length);

    // One change a second: a peer drops (lost), and comes back the next second (joined).
    let tick = 0;
    changer = setInterval(() => {
      const id = ids[Math.floor(tick / 2) % c.peers];
      swarm.command(tick % 2 === 0 ? { cmd: 'drop', id } : { cmd: 'connect', id, port, meta: { service: 'orders' } });
      tick++;
    }, 1000 / c.changesPerSecond);

    const deltas = await frameDeltas(page, c.frameWindowMs);
    const frameMs = { median: round(percentile(deltas, 50)), p99: round(percentile(deltas, 99)), max: round(Math.max(...deltas)), frames: deltas.length };
    await page.close();

    await sleep(1500); // the page gone, its stream stopped
    const before = await cpuWindow(app.pid, c.cpuWindowMs);
    // Opening 20 pages of 1,000 rows is seconds of the browser's CPU: waited for, not measured.
    const opening = Date.now();
    const contexts = await Promise.all(Array.from({ length: Math.ceil(c.pages / c.pagesPerContext) }, () => chromium.browser.createBrowserContext()));
    const pages = await Promise.all(Array.from({ length: c.pages }, (_, i) => openDashboardPage(contexts[i % contexts.length], url, errors, { width: 1280, height: 720 }, 60_000)));
    const peersShown = (n: number) => Number(/^(\d+) alive/.exec(document.getElementById('counts')?.textContent ?? '')?.[1] ?? 0) >= n - 2;
    await Promise.all(pages.map((p) => p.waitForFunction(peersShown, { timeout: 60_000 }, c.peers)));
    const pagesOpenedInMs = Date.now() - opening;
    await sleep(1000);
    const withPages = await cpuWindow(app.pid, c.cpuWindowMs);
    await Promise.all(contexts.map((x) => x.close()));
    await sleep(1500);
    const after = await cpuWindow(app.pid, c.cpuWindowMs);
    clearInterval(changer);

    const run: B9Run = {
      rep, date: new Date().toISOString(), pagesOpenedInMs, rowsInDocument, frameMs,
      serverCpuPercent: {
        withoutPagesBefore: round(before.percent), withPages: round(withPages.percent), withoutPagesAfter: round(after.percent),
        added: round(withPages.percent - (before.percent + after.percent) / 2),
      },
      windows: { withoutPagesBefore: before.system, withPages: withPages.system, withoutPagesAfter: after.system },
      system: systemBetween(sys0, systemCpu()),
      pageErrors: errors.slice(0, 20),
    };
    log(`b9 rep ${rep + 1}: frames median ${frameMs.median} / p99 ${frameMs.p99} / max ${frameMs.max} ms (${frameMs.frames}); server CPU `
      + `${run.serverCpuPercent.withoutPagesBefore} / ${run.serverCpuPercent.withPages} / ${run.serverCpuPercent.withoutPagesAfter} %, added ${run.serverCpuPercent.added} %; `
      + `${c.pages} pages opened in ${pagesOpenedInMs} ms; load ${run.system.loadAverageEnd.join(' ')}, steal ${run.system.stealPct.toFixed(1)} %`
      + `${errors.length ? `; page errors: ${JSON.stringify(errors.slice(0, 3))}` : ''}`);
    return run;
  } finally {
    clearInterval(changer);
    await chromium.close();
    await Promise.all([app.kill(), swarm.kill()]);
  }
}

export async function runB9(options: { quick?: boolean; reps?: number; pages?: number; out?: string } = {}): Promise<B9Result> {
  const started = Date.now();
  const quick = options.quick ?? false;
  const config: B9Config = {
    reps: options.reps ?? (quick ? 1 : 3), peers: 1000, changesPerSecond: 1, pages: options.pages ?? 20, pagesPerContext: 5,
    frameWindowMs: 4000, cpuWindowMs: 5000,
  };
  const machine = machineInfo();
  const chromium = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' }).stdout?.trim().split(' ').slice(0, 2).join(' ') || 'Chromium';
  const runs: B9Run[] = [];
  for (let rep = 0; rep < config.reps; rep++) {
    log(`b9: repetition ${rep + 1}/${config.reps}`);
    runs.push(await runOne(rep, config));
  }
  const s = (f: (r: B9Run) => number) => summarize(runs.map(f));
  const result: B9Result = {
    benchmark: 'b9', method: method(config, chromium), machine: { ...machine, chromium }, config, runs,
    summary: {
      n: runs.length,
      frameMedianMs: s((r) => r.frameMs.median), frameP99Ms: s((r) => r.frameMs.p99), frameMaxMs: s((r) => r.frameMs.max),
      serverCpuWithoutPagesPercent: s((r) => (r.serverCpuPercent.withoutPagesBefore + r.serverCpuPercent.withoutPagesAfter) / 2),
      serverCpuWithPagesPercent: s((r) => r.serverCpuPercent.withPages),
      serverCpuAddedPercent: s((r) => r.serverCpuPercent.added),
      pagesOpenedInMs: s((r) => r.pagesOpenedInMs),
      loadAverage1m: s((r) => r.system.loadAverageStart[0]),
      stealPct: s((r) => r.system.stealPct),
    },
    earlierRuns: 'bench/results/dashboard.json: the same measurement taken by test/dashboard/dashboard-browser.spec.ts before B9 (4 runs, load average 4.7–14)',
    durationMs: Date.now() - started,
  };
  writeResult(options.out ?? 'b9', result);
  return result;
}

if (isMain(import.meta.url)) {
  process.on('exit', () => killAllChildrenNow());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const reps = argValue('reps') ? Number(argValue('reps')) : undefined;
  const pages = argValue('pages') ? Number(argValue('pages')) : undefined;
  const r = await runB9({ quick: hasFlag('--quick'), reps, pages, out: argValue('out') });
  await killAllChildren();
  renderResults();
  const m = r.summary;
  log(`b9 done in ${(r.durationMs / 1000).toFixed(0)} s: frame median ${m.frameMedianMs.median} ms, p99 ${m.frameP99Ms.median} ms; `
    + `server CPU without ${m.serverCpuWithoutPagesPercent.median.toFixed(2)} %, added by ${r.config.pages} pages ${m.serverCpuAddedPercent.median.toFixed(2)} % (medians of ${m.n})`);
  process.exit(0);
}
