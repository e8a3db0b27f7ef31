/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The presence page in a real Chromium (Debian's `chromium`, driven by puppeteer-core), against a
 * real hybrid app (test/fixtures/dashboard-app.ts) on Express and on Fastify, with real peers:
 * a peer process appears, is SIGKILLed and turns lost with its reason; hostile ids and metadata
 * stay text; with cluster presence (Redis and a second replica) the cluster view shows who holds
 * whom. At 1,000 peers: they all arrive, only the rows on screen are drawn, a change shows up,
 * several pages at once all read them. (How smoothly the page scrolls at 1,000 peers and what open
 * pages cost the server is measured in B9, bench/b9-dashboard-load.ts.)
 *
 * A screenshot is saved to the OS temp dir on every run; `UPDATE_SCREENSHOT=1` also writes the
 * README's (docs/images/dashboard.png, from the Express run).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { jsonLine, killAllChildren, LineProcess } from '../../lab/child.js';
import { LEASE_TTL_MS, RENEW_INTERVAL_MS, startReplicas, startSwarm, type Replica } from '../cluster/support/rig.js';
import type { LineProcess as FixtureProcess } from '../cluster/support/line-process.js';
import { RedisServer } from '../cluster/support/redis-server.js';
import type { DashboardAppConfig } from '../fixtures/dashboard-app.js';
import { sleep } from '../support/apps.js';
import { launchChromium, openDashboardPage } from '../support/chromium.js';
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

/** A page on the dashboard, live; records page errors, console errors and CSP violations. `context`: another user's browser. */
function openPage(url: string, problems: Problems = { errors: [] }, viewport = { width: 1440, height: 900 }, context?: BrowserContext, timeoutMs = 10_000): Promise<Page> {
  return openDashboardPage(context ?? chromium.browser, url, problems.errors, viewport, timeoutMs);
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

describe('1,000 peers (Express)', () => {
  const PEERS = 1000;
  let app: App;
  let swarm: FixtureProcess;

  beforeAll(async () => {
    swarm = startSwarm();
    [app] = await Promise.all([apps.get('load')!, swarm.waitFor((l) => l.evt === 'ready')]);
  }, 40_000);

  afterAll(async () => {
    await app?.proc.kill();
  });

  // How smoothly it scrolls and what open pages cost the server is measured in B9 (bench/b9-dashboard-load.ts).
  test('1,000 peers arrive and only the rows on screen are in the document; a peer dropped and back shows up; 3 more pages at once all show the 1,000', async () => {
    const ids = Array.from({ length: PEERS }, (_, i) => `node-${String(i + 1).padStart(4, '0')}`);
    for (const [i, id] of ids.entries()) {
      swarm.command({ cmd: 'connect', id, port: app.port, meta: { service: 'orders', shard: String(i % 16) } });
      if (i % 200 === 199) await sleep(200); // under the server's 1,000 pending handshakes
    }
    const problems: Problems = { errors: [] };
    const page = await openPage(app.url, problems);
    /** Waits until the page's counts line matches (e.g. `1000 alive · 0 suspect · 0 lost`); a timeout says what it read. */
    const counted = (on: Page, pattern: RegExp) => on.waitForFunction((source) => new RegExp(source).test(document.getElementById('counts')?.textContent ?? ''),
      { timeout: 20_000, polling: 'mutation' }, pattern.source).catch(async (error: Error) => {
      throw new Error(`the page's counts never matched ${pattern} (it read "${await on.$eval('#counts', (e) => e.textContent)}"): ${error.message}; ${JSON.stringify(problems.errors)}`);
    });
    const allAlive = new RegExp(`^${PEERS} alive\\b.* 0 lost`);
    await counted(page, allAlive);
    // Only the rows on screen are in the document (and a few beyond its edges).
    expect(await page.$$eval('#peers .body .row', (rows) => rows.length)).toBeLessThan(60);

    // One change: the first row's peer drops without goodbye (lost, with its reason), then comes back.
    swarm.command({ cmd: 'drop', id: ids[0] });
    await waitForRow(page, problems, ids[0], 'lost', 5000, true);
    await counted(page, / 1 lost/);
    swarm.command({ cmd: 'connect', id: ids[0], port: app.port, meta: { service: 'orders' } });
    await waitForRow(page, problems, ids[0], 'alive', 5000);
    await counted(page, allAlive);

    // A few more pages at once, in another browser context (a browser holds 6 HTTP/1.1 connections to a host): each reads the 1,000.
    const context = await chromium.browser.createBrowserContext();
    const others = await Promise.all([0, 1, 2].map(() => openPage(app.url, problems, { width: 1280, height: 720 }, context, 20_000)));
    await Promise.all(others.map((p) => counted(p, allAlive)));
    await context.close();
    await page.close();
    expect(problems.errors).toEqual([]);
  }, 40_000);
});
