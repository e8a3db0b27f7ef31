/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The presence page in a real Chromium (Debian's `chromium`, driven by puppeteer-core), against a
 * real hybrid app (test/fixtures/dashboard-app.ts) on Express and on Fastify, with real peers:
 * a peer process appears, is SIGKILLed and turns lost with its reason; hostile ids and metadata
 * stay text; with cluster presence (Redis and a second replica) the cluster view shows who holds
 * whom. Then, measured: 1,000 peers with one change a second (frame times in the page) and what
 * 20 open pages cost the server (its CPU time with and without them).
 *
 * A screenshot is saved to the OS temp dir on every run; `UPDATE_SCREENSHOT=1` also writes the
 * README's (docs/images/dashboard.png, from the Express run).
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { jsonLine, killAllChildren, LineProcess } from '../../lab/child.js';
import { LEASE_TTL_MS, RENEW_INTERVAL_MS, startReplicas, startSwarm, type Replica } from '../cluster/support/rig.js';
import type { LineProcess as FixtureProcess } from '../cluster/support/line-process.js';
import { RedisServer } from '../cluster/support/redis-server.js';
import type { DashboardAppConfig } from '../fixtures/dashboard-app.js';
import { percentile, sleep } from '../support/apps.js';
import { launchChromium } from '../support/chromium.js';
import { PeerProcess } from '../support/peer-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'dashboard-app.ts');
/** The app's heartbeat interval: lost within (missedBeats + 1) × interval = 2 s of a fault (API.md, Timing). */
const INTERVAL_MS = 500;
const DETECTION_BOUND_MS = 4 * INTERVAL_MS;
const HOSTILE_ID = '<img src=x onerror="window.__pwned1=1">';
const HOSTILE_METADATA = {
  note: '<script>window.__pwned2=1</script>',
  '<b onmouseover="window.__pwned3=1">key</b>': '"><svg onload="window.__pwned4=1">',
};

type Adapter = DashboardAppConfig['adapter'];

let chromium: { browser: Browser; close(): Promise<void> };
let redis: RedisServer;
/** The three apps boot at once (each takes seconds under tsx), each describe awaits its own. */
const apps = new Map<string, Promise<App>>();

beforeAll(async () => {
  redis = await RedisServer.start();
  const cluster = { redis: redis.url, namespace: `dash-${process.pid}`, leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_INTERVAL_MS };
  const booting: Array<[string, DashboardAppConfig]> = [
    ['express', { adapter: 'express', heartbeat: { nodeId: 'gateway-express', heartbeat: { intervalMs: INTERVAL_MS }, cluster } }],
    ['fastify', { adapter: 'fastify', heartbeat: { nodeId: 'gateway-fastify', heartbeat: { intervalMs: INTERVAL_MS } } }],
    ['load', { adapter: 'express', heartbeat: { nodeId: 'gateway-load' } }],
  ];
  for (const [name, config] of booting) {
    const app = startApp(config);
    app.catch(() => undefined); // awaited (and reported) by its describe
    apps.set(name, app);
  }
  chromium = await launchChromium();
}, 30_000);

afterAll(async () => {
  await Promise.all([chromium?.close(), killAllChildren()]); // every app, peer, swarm and replica
  await redis?.stop();
}, 30_000);

interface App {
  proc: LineProcess<Record<string, any>>;
  url: string;
  port: number;
  namespace?: string;
}

/** The app in a child process; resolves once it listens. */
async function startApp(config: DashboardAppConfig): Promise<App> {
  const proc = new LineProcess<Record<string, any>>(FIXTURE, [JSON.stringify(config)], { label: `dashboard-app ${config.adapter}`, parse: jsonLine });
  const ready = await proc.waitFor((l) => l.evt === 'ready', 30_000, 'ready');
  return { proc, url: `http://127.0.0.1:${ready.httpPort}/heartbeat`, port: ready.port as number, namespace: config.heartbeat.cluster?.namespace };
}

interface Problems {
  errors: string[];
}

/**
 * A page on the dashboard, live; records page errors, console errors and CSP violations.
 * `context`: a browser context (another user's browser) instead of the default one.
 */
async function openPage(url: string, problems: Problems = { errors: [] }, viewport = { width: 1440, height: 900 }, context?: BrowserContext, timeoutMs = 10_000): Promise<Page> {
  const page = await (context ?? chromium.browser).newPage();
  await page.setViewport(viewport);
  page.on('pageerror', (e) => problems.errors.push(`pageerror: ${(e as Error).message}`));
  page.on('console', (m) => m.type() === 'error' && problems.errors.push(`console: ${m.text()}`));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await page.goto(url);
  await page.waitForSelector('#connection[data-state="live"]', { timeout: timeoutMs });
  return page;
}

interface RowView {
  id: string;
  status: string;
  reason: string;
  metadata: string[];
}

/** What a user reads in the peer table. */
const readPeers = (page: Page): Promise<RowView[]> => page.evaluate(() =>
  [...document.querySelectorAll('#peers .body .row')].map(({ children: cells }) => ({
    id: cells[0].textContent ?? '',
    status: cells[1].querySelector('.badge')?.textContent ?? '',
    reason: cells[1].querySelector('.reason')?.textContent ?? '',
    metadata: [...cells[7].querySelectorAll('.chip')].map((c) => c.textContent ?? ''),
  })));

/** Waits until the table shows `id` with `status` (and a non-empty reason when `withReason`); a timeout says what the page reported. */
function waitForRow(page: Page, problems: Problems, id: string, status: string, timeoutMs: number, withReason = false) {
  return page.waitForFunction((id, status, withReason) => [...document.querySelectorAll('#peers .body .row')]
    .some(({ children: cells }) => cells[0].textContent === id && cells[1].querySelector('.badge')?.textContent === status
      && (!withReason || (cells[1].querySelector('.reason')?.textContent ?? '') !== '')),
  { timeout: timeoutMs, polling: 'mutation' }, id, status, withReason).catch((error: Error) => {
    throw new Error(`${id} not ${status} on the page: ${error.message}; the page reported: ${JSON.stringify(problems.errors)}`);
  });
}

async function screenshot(page: Page, adapter: Adapter): Promise<string> {
  const file = join(tmpdir(), `nest-heartbeat-dashboard-${adapter}.png`);
  await page.screenshot({ path: file as `${string}.png` });
  if (process.env.UPDATE_SCREENSHOT && adapter === 'express') {
    mkdirSync(join(ROOT, 'docs', 'images'), { recursive: true });
    copyFileSync(file, join(ROOT, 'docs', 'images', 'dashboard.png'));
  }
  return file;
}

describe.each<Adapter>(['express', 'fastify'])('the presence page in Chromium, on %s', (adapter) => {
  const withCluster = adapter === 'express'; // the cluster view on one of the two
  let app: App;
  let swarm: FixtureProcess;
  let replica: Replica | undefined;

  beforeAll(async () => {
    swarm = startSwarm();
    [app] = await Promise.all([apps.get(adapter)!, swarm.waitFor((l) => l.evt === 'ready')]);
    if (withCluster) [replica] = await startReplicas(redis.url, app.namespace!, ['replica-b']);
  }, 40_000);

  afterAll(async () => {
    await app?.proc.kill();
  });

  test('a peer appears, turns lost with its reason after SIGKILL within the detection bound + 1 s; hostile strings stay text', async () => {
    const problems: Problems = { errors: [] };
    const page = await openPage(app.url, problems);
    // Real peers: a peer app process, and raw-protocol peers from the swarm process (one hostile).
    const peer = new PeerProcess({
      nodeId: 'orders-1', metadata: { service: 'orders', region: 'eu-west', version: '1.4.2' },
      heartbeat: { intervalMs: INTERVAL_MS }, clients: [{ name: 'SERVER', port: app.port }],
    });
    const others: Array<[string, Record<string, string>]> = [
      ['orders-2', { service: 'orders', region: 'eu-west', version: '1.4.2' }],
      ['billing-1', { service: 'billing', region: 'us-east', version: '2.0.0' }],
      ['search-1', { service: 'search', region: 'eu-west', version: '0.9.1' }],
      [HOSTILE_ID, HOSTILE_METADATA],
    ];
    for (const [id, meta] of others) swarm.command({ cmd: 'connect', id, port: app.port, meta });
    if (replica) {
      for (const id of ['billing-2', 'search-2']) swarm.command({ cmd: 'connect', id, port: replica.port, meta: { service: id.split('-')[0], region: 'us-east' } });
    }

    await waitForRow(page, problems, 'orders-1', 'alive', 20_000);
    await waitForRow(page, problems, HOSTILE_ID, 'alive', 5000);
    swarm.command({ cmd: 'bye', id: 'search-1' });
    await waitForRow(page, problems, 'search-1', 'left', 5000);

    // SIGKILL: no goodbye. The row turns lost and says why, within the bound + 1 s.
    await sleep(1500); // a few RTT samples for the sparklines first
    const killedAt = Date.now();
    peer.signal('SIGKILL');
    await waitForRow(page, problems, 'orders-1', 'lost', DETECTION_BOUND_MS + 1000, true);
    const tookMs = Date.now() - killedAt;
    expect(tookMs).toBeLessThan(DETECTION_BOUND_MS + 1000);
    const rows = await readPeers(page);
    expect(rows.find((r) => r.id === 'orders-1')).toEqual({
      id: 'orders-1', status: 'lost', reason: expect.stringMatching(/^(closed-without-goodbye|connection-reset)$/),
      metadata: ['service=orders', 'region=eu-west', 'version=1.4.2'],
    });
    // The event log says it too (its message follows the table's).
    await page.waitForFunction(() => [...document.querySelectorAll('#events li')]
      .some((li) => /^\S+lostorders-1(closed-without-goodbye|connection-reset)$/.test(li.textContent ?? '')), { timeout: 2000, polling: 'mutation' });
    const logged = await page.$$eval('#events li', (items) => items.map((li) => li.textContent ?? ''));

    // The hostile peer: its id and metadata shown as the characters they are, nothing injected or run.
    expect(rows.find((r) => r.id === HOSTILE_ID)).toEqual({
      id: HOSTILE_ID, status: 'alive', reason: '', metadata: Object.entries(HOSTILE_METADATA).map(([k, v]) => `${k}=${v}`),
    });
    expect(logged.some((t) => t.includes(HOSTILE_ID))).toBe(true);
    await page.hover('#peers .body .row'); // a mouseover handler, had one been injected
    const dom = await page.evaluate(() => ({
      flags: Object.keys(window).filter((k) => k.startsWith('__pwned')),
      images: document.querySelectorAll('img').length,
      scripts: [...document.scripts].map((s) => s.getAttribute('src')),
      foreign: document.querySelectorAll('b, script:not([src]), svg:not(.spark), iframe, object, embed, style').length,
      handlers: [...document.querySelectorAll('*')].flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.name)),
    }));
    expect(dom).toEqual({ flags: [], images: 0, scripts: ['./heartbeat/assets/app.js'], foreign: 0, handlers: [] });

    // Filters: by metadata, then by status.
    const showing = (ids: string[]) => page.waitForFunction((ids) => JSON.stringify([...document.querySelectorAll('#peers .body .row')]
      .map((row) => row.children[0].textContent)) === JSON.stringify(ids), { timeout: 2000, polling: 'mutation' }, ids);
    await page.type('input[name="text"]', 'service=orders');
    await showing(['orders-1', 'orders-2']);
    await page.click('input[value="lost"]');
    await showing(['orders-2']);
    await page.click('input[value="lost"]');
    await page.$eval('input[name="text"]', (input) => {
      (input as HTMLInputElement).value = '';
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await showing([HOSTILE_ID, 'billing-1', 'orders-1', 'orders-2', 'search-1']);

    if (replica) {
      // The cluster view: both replicas, and the replica that holds each peer.
      await page.waitForFunction(() => document.querySelectorAll('#replicas li').length === 2
        && [...document.querySelectorAll('#cluster-peers .body .row')].some((row) => row.textContent?.includes('billing-2') && row.textContent.includes('replica-b')),
      { timeout: 10_000, polling: 'mutation' });
      const cluster = await page.evaluate(() => ({
        hidden: (document.getElementById('cluster') as HTMLElement).hidden,
        status: document.getElementById('cluster-status')?.textContent,
        replicas: [...document.querySelectorAll('#replicas li .node')].map((n) => n.textContent).sort(),
        held: Object.fromEntries([...document.querySelectorAll('#cluster-peers .body .row')]
          .map(({ children: cells }) => [cells[0].textContent, [...cells[2].querySelectorAll('.node')].map((n) => n.textContent)])),
      }));
      expect(cluster).toMatchObject({ hidden: false, status: 'connected', replicas: ['gateway-express', 'replica-b'] });
      expect(cluster.held).toMatchObject({ 'billing-2': ['replica-b'], 'search-2': ['replica-b'], 'orders-2': ['gateway-express'], [HOSTILE_ID]: ['gateway-express'] });
    } else {
      expect(await page.$eval('#cluster', (s) => (s as HTMLElement).hidden)).toBe(true);
    }

    // The README's picture: long enough for the sparklines to draw (one RTT sample a second).
    if (process.env.UPDATE_SCREENSHOT && adapter === 'express') await sleep(15_000);
    const file = await screenshot(page, adapter);
    process.stderr.write(`dashboard (${adapter}): lost ${tookMs} ms after SIGKILL (bound ${DETECTION_BOUND_MS} + 1000 ms); screenshot ${file}\n`);
    expect(problems.errors).toEqual([]);
    await page.close();
  }, 45_000);
});

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

/** The server's CPU over `ms`, in % of one core. */
async function cpuPercent(pid: number, ms: number): Promise<number> {
  const start = cpuNs(pid);
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const wallNs = Number(process.hrtime.bigint() - t0);
  return ((cpuNs(pid) - start) / wallNs) * 100;
}

describe('1,000 peers and 20 pages (Express)', () => {
  const PEERS = 1000;
  const PAGES = 20;
  const WINDOW_MS = 5000;
  let app: App;
  let swarm: FixtureProcess;
  let changer: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    swarm = startSwarm();
    [app] = await Promise.all([apps.get('load')!, swarm.waitFor((l) => l.evt === 'ready')]);
  }, 40_000);

  afterAll(async () => {
    clearInterval(changer);
    await app?.proc.kill();
  });

  test('the table of 1,000 peers stays responsive with one change a second, and 20 open pages cost the server little CPU', async () => {
    const ids = Array.from({ length: PEERS }, (_, i) => `node-${String(i + 1).padStart(4, '0')}`);
    const services = ['orders', 'billing', 'search', 'auth', 'mail'];
    for (const [i, id] of ids.entries()) {
      swarm.command({ cmd: 'connect', id, port: app.port, meta: { service: services[i % 5], region: i % 3 ? 'eu-west' : 'us-east', shard: String(i % 16) } });
      if (i % 200 === 199) await sleep(200); // under the server's 1,000 pending handshakes
    }
    const problems: Problems = { errors: [] };
    const page = await openPage(app.url, problems);
    await page.waitForFunction((n) => document.getElementById('counts')?.textContent?.startsWith(`${n} alive`), { timeout: 20_000 }, PEERS);
    // Only the rows on screen are in the document (and a few beyond its edges).
    expect(await page.$$eval('#peers .body .row', (rows) => rows.length)).toBeLessThan(60);

    // One change a second: a peer drops (lost), and comes back the next second (joined).
    let tick = 0;
    changer = setInterval(() => {
      const id = ids[Math.floor(tick / 2) % PEERS];
      swarm.command(tick % 2 === 0 ? { cmd: 'drop', id } : { cmd: 'connect', id, port: app.port, meta: { service: 'orders' } });
      tick++;
    }, 1000);

    // Frame times while the table updates and the user scrolls through it.
    const deltas = await page.evaluate((ms) => new Promise<number[]>((resolve) => {
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
    }), 4000);
    const frames = { median: percentile(deltas, 50), p99: percentile(deltas, 99), max: Math.max(...deltas), count: deltas.length };
    await page.close();
    expect(problems.errors).toEqual([]);

    // Server CPU: windows without a page, with 20 pages, without again (the baseline is the mean of
    // the two, so a drift of the machine's load does not count as the pages'); the same changes in all.
    await sleep(1500); // the last page gone, its stream stopped
    const load = loadavg().map((l) => l.toFixed(2)).join(' ');
    const before = await cpuPercent(app.proc.pid, WINDOW_MS);
    // Opening 20 pages of 1,000 rows is seconds of the browser's CPU (~0.5 s each): not measured, only waited for.
    const opening = Date.now();
    // Five pages per browser context: a browser opens at most 6 HTTP/1.1 connections to a host, and
    // each open page holds one for its stream.
    const contexts = await Promise.all(Array.from({ length: PAGES / 5 }, () => chromium.browser.createBrowserContext()));
    const pages = await Promise.all(Array.from({ length: PAGES }, (_, i) => openPage(app.url, problems, { width: 1280, height: 720 }, contexts[i % contexts.length], 60_000)));
    const peersShown = (n: number) => Number(/^(\d+) alive/.exec(document.getElementById('counts')?.textContent ?? '')?.[1] ?? 0) >= n - 2;
    await Promise.all(pages.map((p) => p.waitForFunction(peersShown, { timeout: 60_000 }, PEERS))).catch(async (error: Error) => {
      const states = await Promise.all(pages.map((p) => p.evaluate(() => `${document.getElementById('connection')?.dataset.state}: ${document.getElementById('counts')?.textContent}`)));
      throw new Error(`${error.message}; the pages: ${JSON.stringify(states)}; ${JSON.stringify(problems.errors.slice(0, 5))}`);
    });
    const openedInMs = Date.now() - opening;
    await sleep(1000);
    const withPages = await cpuPercent(app.proc.pid, WINDOW_MS);
    const loadAfter = loadavg().map((l) => l.toFixed(2)).join(' ');
    await Promise.all(contexts.map((c) => c.close()));
    await sleep(1500);
    const after = await cpuPercent(app.proc.pid, WINDOW_MS);
    const without = (before + after) / 2;
    clearInterval(changer);

    const result = {
      date: new Date().toISOString(), peers: PEERS, changesPerSecond: 1, pages: PAGES, windowMs: WINDOW_MS, pagesOpenedInMs: openedInMs,
      frameMs: { median: round(frames.median), p99: round(frames.p99), max: round(frames.max), frames: frames.count },
      serverCpuPercent: { withoutPagesBefore: round(before), with20Pages: round(withPages), withoutPagesAfter: round(after), added: round(withPages - without) },
      loadAverage: { before: load, after: loadAfter }, machine: `${process.platform} ${process.arch}, node ${process.version}`,
    };
    process.stderr.write(`dashboard load: ${JSON.stringify(result)}\n`);
    writeFileSync(join(tmpdir(), 'nest-heartbeat-dashboard-load.json'), `${JSON.stringify(result, null, 2)}\n`);

    // Bounds with room for a noisy 2-core machine; the README reports the measured figures.
    expect(frames.median).toBeLessThan(50);
    expect(frames.p99).toBeLessThan(250);
    expect(withPages - without).toBeLessThan(3);
    expect(problems.errors).toEqual([]);
  }, 150_000);
});

const round = (n: number) => Math.round(n * 100) / 100;
