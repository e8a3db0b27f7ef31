/**
 * The presence page over HTTP, in Express and Fastify apps on real sockets: its routes and
 * headers, the guard, the order of its stream (the table first, then changes), and what a page
 * that goes away leaves behind (nothing). The browser's view of it is dashboard-browser.spec.ts.
 */
import { Injectable, Module, type CanActivate, type ExecutionContext, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { createHook } from 'node:async_hooks';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { HeartbeatDashboardModule, type HeartbeatDashboardOptions } from '../../src/dashboard/index.js';
import { DashboardFeed } from '../../src/dashboard/dashboard-feed.js';
import { PresenceHistory } from '../../src/dashboard/presence-history.js';
import { PeerTable } from '../../src/presence/peer-table.js';
import { HeartbeatModule, HeartbeatServer, type HeartbeatModuleOptions } from '../../src/index.js';
import { Closer, sleep, startClientApp, until } from '../support/apps.js';
import { filesReachedFrom } from '../support/reachable.js';
import { SseClient } from '../support/sse.js';

type Adapter = 'express' | 'fastify';

interface DashboardApp {
  app: INestApplication;
  url: string;
  port: number;
  close(): Promise<void>;
}

@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers.authorization === 'Bearer s3cret';
  }
}

async function startDashboardApp(adapter: Adapter, dashboard: HeartbeatDashboardOptions | false = {}, heartbeat: HeartbeatModuleOptions = {}, prefix?: string): Promise<DashboardApp> {
  @Module({
    imports: [
      HeartbeatModule.forRoot({ nodeId: 'dash', ...heartbeat, server: { port: 0 } }),
      ...(dashboard === false ? [] : [HeartbeatDashboardModule.forRoot(dashboard)]),
    ],
  })
  class AppModule {}
  const app = adapter === 'fastify'
    ? await NestFactory.create(AppModule, new FastifyAdapter() as never, { logger: false })
    : await NestFactory.create(AppModule, { logger: false });
  if (prefix) app.setGlobalPrefix(prefix);
  app.connectMicroservice({ strategy: app.get(HeartbeatServer) });
  await app.startAllMicroservices();
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, url: `http://127.0.0.1:${port}`, port: app.get(HeartbeatServer).address!.port, close: () => app.close() };
}

/**
 * Timers made for the pages, as long as they exist: every Timeout created from here on whose
 * creation stack passes through the page's code or Nest's SSE code, until it is cleared or fired.
 */
function pageTimers() {
  const timers = new Map<number, string>();
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      if (/src\/dashboard\/|router-response-controller|sse-stream/.test(stack)) timers.set(id, stack);
    },
    destroy(id) {
      timers.delete(id);
    },
  }).enable();
  return { alive: () => [...timers.values()], stop: () => hook.disable() };
}

const peer = (nodeId: string, port: number, metadata: Record<string, string> = {}) =>
  startClientApp({ nodeId, metadata, heartbeat: { intervalMs: 100 }, clients: [{ name: 'DASH', port }] });

describe.each<Adapter>(['express', 'fastify'])('the presence page on %s', (adapter) => {
  const closer = new Closer();
  afterEach(() => closer.closeAll());

  test('serves the page, its files and its stream under the path, with a strict Content-Security-Policy; nothing answers but GET', async () => {
    const { url } = closer.add(await startDashboardApp(adapter, { path: '/ops/presence' }));
    const page = await fetch(`${url}/ops/presence`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    // No inline script or style: every script has a src, and the policy would block any other.
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="./presence/assets/app.js">']);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);

    const app = await fetch(`${url}/ops/presence/assets/app.js`);
    expect(app.status).toBe(200);
    expect(app.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(app.headers.get('content-security-policy')).toBe(csp);
    expect(await app.text()).toContain("new EventSource(new URL('../events', import.meta.url))");
    expect((await fetch(`${url}/ops/presence/assets/dashboard.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    for (const missing of ['index.html', 'nope.js', '..%2Fdashboard-assets.ts', '%2E%2E%2Fpackage.json']) {
      expect((await fetch(`${url}/ops/presence/assets/${missing}`)).status).toBe(404);
    }

    const events = closer.add(await SseClient.open(`${url}/ops/presence/events`));
    expect(events.status).toBe(200);
    expect(events.response.headers['content-type']).toBe('text/event-stream');
    await events.next('snapshot');

    // Read-only: no route takes anything but GET.
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      for (const path of ['', '/assets/app.js', '/events']) {
        expect({ method, path, status: (await fetch(`${url}/ops/presence${path}`, { method })).status }).toEqual({ method, path, status: 404 });
      }
    }
    expect((await fetch(`${url}/heartbeat`)).status).toBe(404); // only where it was put
  });

  test('a page opened late gets the current table first, then the changes as they happen', async () => {
    const { url, port } = closer.add(await startDashboardApp(adapter));
    const early = closer.add(await peer('early', port, { service: 'orders' }));
    await until(() => early.presence.isAlive('dash'), 5000, 'early joined');
    await sleep(300); // a few pings: an RTT

    const stream = closer.add(await SseClient.open(`${url}/heartbeat/events`));
    const first = await stream.next('snapshot');
    expect(stream.events[0]).toBe(first);
    const snapshot = first.data;
    expect(snapshot.self).toEqual({ nodeId: 'dash', intervalMs: 1000, lostAfterMs: 3500, recentMs: 1500 });
    expect(snapshot.peers).toEqual([expect.objectContaining({ id: 'early', status: 'alive', direction: 'inbound', managed: true, metadata: { service: 'orders' } })]);
    // Last heard and RTT by the row's number: heard lately, an RTT measured.
    const { n } = snapshot.peers[0];
    expect(snapshot.beats).toEqual({ at: expect.any(Number), heard: [n], silent: [], rtt: [n, expect.any(Number)] });
    expect(snapshot.events).toEqual([expect.objectContaining({ scope: 'local', type: 'joined', id: 'early', status: 'alive' })]);

    const late = closer.add(await peer('late', port, { service: 'billing' }));
    // One update says it all: the new row and the event.
    const joined = await stream.next('update', (d) => d.peers?.upsert.some((r: any) => r.id === 'late'));
    expect(joined.data.peers.upsert).toEqual([expect.objectContaining({ id: 'late', status: 'alive', metadata: { service: 'billing' } })]);
    expect(joined.data.events).toEqual([expect.objectContaining({ scope: 'local', type: 'joined', id: 'late', address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) })]);

    await late.close(); // goodbye
    const left = await stream.next('update', (d) => d.peers?.upsert.some((r: any) => r.id === 'late' && r.status === 'left'));
    expect(left.data.events).toEqual([expect.objectContaining({ type: 'left', id: 'late', status: 'left' })]);
    // The peer that left: silent since its goodbye, with its last-heard time.
    const lateN = joined.data.peers.upsert[0].n;
    const { pulse } = (await stream.next('update', (d) => d.pulse?.silent[0] === lateN)).data;
    expect(pulse.now).toBeGreaterThan(snapshot.now);
    expect(pulse.silent).toEqual([lateN, expect.any(Number)]);

    // A page opened now sees what the first one has been told, in one message.
    const second = closer.add(await SseClient.open(`${url}/heartbeat/events`));
    const now = (await second.next('snapshot')).data;
    expect(now.peers.map((p: any) => [p.id, p.status])).toEqual([['early', 'alive'], ['late', 'left']]);
    expect(now.events.map((e: any) => [e.type, e.id])).toEqual([['joined', 'early'], ['joined', 'late'], ['left', 'late']]);
  });

  test('a page that goes away costs nothing after: its subscriptions are released and no timer is left', async () => {
    const { app, url, port } = closer.add(await startDashboardApp(adapter));
    closer.add(await peer('p1', port));
    const history = app.get(PresenceHistory) as unknown as { added: { observed: boolean } };
    const feed = app.get(DashboardFeed) as unknown as { view?: unknown };
    const tableEvents = (app.get(PeerTable) as unknown as { events: { observers: unknown[] } }).events;
    const observersBefore = tableEvents.observers.length;

    const timers = pageTimers();
    try {
      const pages = await Promise.all([1, 2, 3].map(() => SseClient.open(`${url}/heartbeat/events`)));
      await Promise.all(pages.map((p) => p.next('update', (d) => d.pulse?.rtt !== undefined, 7000))); // an RTT round
      expect(history.added.observed).toBe(true);
      expect(timers.alive().length).toBeGreaterThan(0); // the pulse (and Nest's own per-stream probe)

      for (const page of pages) page.close();
      await until(() => timers.alive().length === 0, 2000, 'no timer of the pages left');
      expect(feed.view).toBeUndefined();
      expect(history.added.observed).toBe(false);
      expect(tableEvents.observers.length).toBe(observersBefore);
    } finally {
      timers.stop();
    }

    // And it starts again for the next page.
    const again = closer.add(await SseClient.open(`${url}/heartbeat/events`));
    expect((await again.next('snapshot')).data.peers.map((p: any) => p.id)).toEqual(['p1']);
  });

  test('the guard stands before every route: page, files and stream', async () => {
    const { url } = closer.add(await startDashboardApp(adapter, { guard: TokenGuard }));
    for (const path of ['/heartbeat', '/heartbeat/assets/app.js', '/heartbeat/events']) {
      expect({ path, status: (await fetch(`${url}${path}`)).status }).toEqual({ path, status: 403 });
      expect({ path, status: (await fetch(`${url}${path}`, { headers: { authorization: 'Bearer wrong' } })).status }).toEqual({ path, status: 403 });
    }
    expect((await fetch(`${url}/heartbeat`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    expect((await fetch(`${url}/heartbeat/assets/app.js`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    const stream = closer.add(await SseClient.open(`${url}/heartbeat/events`, { authorization: 'Bearer s3cret' }));
    await stream.next('snapshot');
  });
});

describe('HeartbeatDashboardModule', () => {
  const closer = new Closer();
  afterEach(() => closer.closeAll());

  test('the page links its files relative to its own address: behind a global prefix, with or without a trailing slash', async () => {
    const { url } = closer.add(await startDashboardApp('express', { path: 'ops/heartbeat/' }, {}, 'api'));
    for (const pageUrl of [`${url}/api/ops/heartbeat`, `${url}/api/ops/heartbeat/`]) {
      const html = await (await fetch(pageUrl)).text();
      const links = [...html.matchAll(/(?:src|href)="(\.\/[^"]+)"/g)].map((m) => new URL(m[1], pageUrl).href);
      expect(links).toEqual([`${url}/api/ops/heartbeat/assets/dashboard.css`, `${url}/api/ops/heartbeat/assets/app.js`]);
      for (const link of links) expect((await fetch(link)).status).toBe(200);
    }
  });

  test('off unless imported: no route, and the package root never loads it', async () => {
    const { url } = closer.add(await startDashboardApp('express', false));
    expect((await fetch(`${url}/heartbeat`)).status).toBe(404);

    const seen = [...filesReachedFrom().keys()];
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.filter((f) => f.includes(join('src', 'dashboard')))).toEqual([]);
  });

  test('bad options fail at forRoot with a message naming the option; forRootAsync is refused', () => {
    expect(() => HeartbeatDashboardModule.forRoot({ path: '/a b' })).toThrow(/option "path" must be segments of letters, digits and \._~- .*\(got "\/a b"\)/);
    expect(() => HeartbeatDashboardModule.forRoot({ path: '/x/:id' })).toThrow(/option "path"/);
    expect(() => HeartbeatDashboardModule.forRoot({ path: '/x/../y' })).toThrow(/option "path"/);
    expect(() => HeartbeatDashboardModule.forRoot({ path: 42 as never })).toThrow(/option "path" must be a string \(got 42\)/);
    expect(() => HeartbeatDashboardModule.forRoot({ guard: { canActivate: () => true } as never })).toThrow(/option "guard" must be a guard class/);
    expect(() => (HeartbeatDashboardModule as unknown as { forRootAsync(o: unknown): unknown }).forRootAsync({ useFactory: () => ({}) }))
      .toThrow(/has no forRootAsync\(\).*use forRoot\(\)/);
  });

  test('without HeartbeatModule in the application, the boot fails with a message that says what to import', async () => {
    @Module({ imports: [HeartbeatDashboardModule.forRoot()] })
    class NoPresenceModule {}
    await expect(NestFactory.create(NoPresenceModule, { logger: false, abortOnError: false }).then((a) => a.init()))
      .rejects.toThrow(/HeartbeatDashboardModule: no PresenceService in this application; import HeartbeatModule\.forRoot\(\)/);
  });
});
