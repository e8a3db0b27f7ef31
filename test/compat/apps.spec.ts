/**
 * The packed package in real Nest apps: an ESM Nest 12 app as `nest new` of CLI 12 makes it
 * (nodenext, TypeScript 6, and 7 too), a CommonJS Nest 12 app with the classic `"module":
 * "commonjs"` (this repo's TypeScript 5.9), and a CommonJS Nest 11 app at the floor of the
 * supported range (nodenext; TypeScript 5.9, 6 and 7). Each installs the tarball with npm,
 * compiles the programs of `examples/` with tsc and runs them as a user would.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanUp, eventually, freePort, httpGet, installApp, Program, ROOT, type FixtureApp } from './support/package-fixture.js';

const LOST = /^@OnPeerLost: orders-1 lost \((closed-without-goodbye|connection-reset)\)$/;
/** The TypeScript major versions each app compiles the examples with (README's version table). */
const typescripts: Record<string, string> = { 'nest12-cjs': '5', 'nest12-esm': '6, 7', 'nest11-cjs': '5, 6, 7' };
const APPS = [
  { name: 'nest12-cjs', format: 'commonjs' },
  { name: 'nest12-esm', format: 'esm' },
  { name: 'nest11-cjs', format: 'commonjs' },
];

afterAll(() => cleanUp(), 30_000);

describe.each(APPS)('$name app with the packed package', ({ name, format }) => {
  let app: FixtureApp;
  /** The version that built dist/, which the other tests run. */
  let mainTypescript: string;

  beforeAll(async () => {
    app = await installApp(name);
    const c = await app.compile();
    mainTypescript = c.version;
    if (process.env.COMPAT_TIMES) process.stderr.write(`${name}: install ${app.installMs} ms, tsc ${c.version} ${c.ms} ms\n`);
  }, 300_000);

  test(`the programs compile with the TypeScript versions the app lists (${typescripts[name]}), and run when built with each`, async () => {
    const versions: string[] = [];
    for (const typescript of await app.typescripts()) {
      // `typescript` built dist/ before the tests; the others get a build of their own.
      const outDir = typescript === 'typescript' ? 'dist' : `dist-${typescript}`;
      const version = typescript === 'typescript' ? mainTypescript : (await app.compile(typescript, outDir)).version;
      versions.push(version.split('.')[0]);
      // One program of each build talks to one of the main build: the output of each compiler runs.
      const port = String(await freePort());
      const server = app.start('server', { PORT: port }, outDir);
      await server.waitFor(new RegExp(`^orders-1 listening on port ${port}$`));
      const stock = app.start('stock-client', { ORDERS_PORT: port });
      await stock.waitFor(/^reply: \{"id":"A-2","total":42\}$/);
      await server.stop();
    }
    expect(versions.join(', ')).toBe(typescripts[name]);
  }, 120_000);

  test(`the programs compile to ${format} and load nest-heartbeat with ${format === 'commonjs' ? 'require()' : 'import'}`, async () => {
    const server = await readFile(join(app.dir, 'dist', 'server.js'), 'utf8');
    const health = await readFile(join(app.dir, 'dist', 'health.js'), 'utf8');
    if (format === 'commonjs') {
      expect(server).toMatch(/require\("nest-heartbeat"\)/);
      expect(health).toMatch(/require\("nest-heartbeat\/terminus"\)/);
    } else {
      expect(server).toMatch(/from 'nest-heartbeat'/);
      expect(health).toMatch(/from 'nest-heartbeat\/terminus'/);
    }
  });

  test('server and client: a reply; a stock ClientTCP is served as tcp:host:port; SIGKILL fails the request in flight with PeerLostError and runs @OnPeerLost; SIGTERM is a goodbye', async () => {
    const port = String(await freePort());
    let server = app.start('server', { PORT: port });
    await server.waitFor(new RegExp(`^orders-1 listening on port ${port}$`));

    const client = app.start('client', { ORDERS_PORT: port });
    await client.waitFor(/^reply: \{"id":"A-1","total":42\}$/);
    await client.waitFor(/^waiting for the monthly report/);
    await server.waitFor(/^joined: billing-1 \(managed: true\) from 127\.0\.0\.1:\d+$/);

    const stock = app.start('stock-client', { ORDERS_PORT: port });
    await stock.waitFor(/^reply: \{"id":"A-2","total":42\}$/);
    expect((await stock.exited).code).toBe(0);
    await server.waitFor(/^joined: tcp:127\.0\.0\.1:\d+ \(managed: false\) from 127\.0\.0\.1:\d+$/);

    // The monthly report is in flight (the server sleeps on it): a crash fails it at once.
    const killedAt = Date.now();
    server.kill('SIGKILL');
    await client.waitFor(/^PeerLostError: Peer "orders-1" was lost \((closed-without-goodbye|connection-reset)\)$/, 5000);
    await client.waitFor(LOST, 5000);
    // Crash detection takes milliseconds (README: bound 200 ms); 2 s leaves room for a busy machine.
    expect(Date.now() - killedAt).toBeLessThan(2000);

    // The client reconnects by itself; a graceful stop of the server is then `left`, not `lost`.
    server = app.start('server', { PORT: port });
    await server.waitFor(/^joined: billing-1 \(managed: true\)/, 15_000);
    server.kill('SIGTERM');
    await client.waitFor(/^orders-1 is left$/, 5000);
    expect((await server.exited).signal).toBe('SIGTERM'); // Nest re-raises the signal after its shutdown hooks
    const statuses = client.lines.filter((l) => /^orders-1 is (alive|lost|left)$/.test(l));
    expect(statuses).toEqual(['orders-1 is alive', 'orders-1 is lost', 'orders-1 is alive', 'orders-1 is left']);
    expect(client.lines.filter((l) => LOST.test(l))).toHaveLength(1);
    // The client ran for seconds, past the module's shutdown-hooks check: the example enables them.
    expect(client.output).not.toMatch(/will not run shutdown hooks/);
    await client.stop();
  }, 60_000);

  test('health: GET /health is 200 while orders-1 is alive and 503 once it is SIGKILLed', async () => {
    const [port, httpPort] = [String(await freePort()), String(await freePort())];
    const server = app.start('server', { PORT: port });
    await server.waitFor(/^orders-1 listening/);
    const gateway = app.start('health', { ORDERS_PORT: port, HTTP_PORT: httpPort });
    await gateway.waitFor(/^health at /);

    const up = await eventually(async () => {
      const r = await httpGet(Number(httpPort), '/health');
      return r.status === 200 ? r : undefined;
    }, 10_000, 'GET /health 200');
    expect(up.body.status).toBe('ok');
    expect(up.body.info.orders.status).toBe('up');
    expect(up.body.info['orders-quorum'].status).toBe('up');

    server.kill('SIGKILL');
    const down = await eventually(async () => {
      const r = await httpGet(Number(httpPort), '/health');
      return r.status === 503 ? r : undefined;
    }, 5000, 'GET /health 503');
    expect(down.body.error.orders.status).toBe('down');
    await gateway.stop();
  }, 60_000);

  test('hybrid: HTTP and the heartbeat transport on two ports in one app; a stock client is listed in GET /peers', async () => {
    const [port, httpPort] = [String(await freePort()), String(await freePort())];
    const hybrid = app.start('hybrid', { PORT: port, HTTP_PORT: httpPort });
    await hybrid.waitFor(new RegExp(`^HTTP on port ${httpPort}, heartbeat transport on port ${port}$`));

    const stock = app.start('stock-client', { ORDERS_PORT: port });
    await stock.waitFor(/^reply: \{"id":"A-2","total":42\}$/);
    expect((await stock.exited).code).toBe(0);

    const { status, body } = await httpGet(Number(httpPort), '/peers');
    expect(status).toBe(200);
    expect(body).toEqual([expect.objectContaining({ id: expect.stringMatching(/^tcp:127\.0\.0\.1:\d+$/), managed: false, direction: 'inbound' })]);
    await hybrid.stop();
  }, 60_000);

  test('kubernetes: /health/live is 200 whatever orders does; /health/ready is 503 until an orders instance joins, then 200; SIGTERM is a goodbye', async () => {
    const [port, httpPort, ordersPort] = [String(await freePort()), String(await freePort()), String(await freePort())];
    // Started before its dependency, as Kubernetes may start them: not ready, but alive.
    const billing = app.start('kubernetes', { PORT: port, HTTP_PORT: httpPort, ORDERS_PORT: ordersPort });
    await billing.waitFor(new RegExp(`^billing: heartbeat transport on port ${port}, probes on port ${httpPort}$`));
    expect((await httpGet(Number(httpPort), '/health/live')).status).toBe(200);
    const notReady = await httpGet(Number(httpPort), '/health/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body.error.orders.status).toBe('down');

    const orders = app.start('server', { PORT: ordersPort });
    await orders.waitFor(/^orders-1 listening/);
    // The client reconnects with backoff (maxDelayMs 5 s by default): ready within it, and a margin.
    const ready = await eventually(async () => {
      const r = await httpGet(Number(httpPort), '/health/ready');
      return r.status === 200 ? r : undefined;
    }, 10_000, 'GET /health/ready 200');
    expect(ready.body.info.orders).toMatchObject({ status: 'up', alive: 1 });
    expect((await httpGet(Number(httpPort), '/health/live')).status).toBe(200);

    billing.kill('SIGTERM');
    await orders.waitFor(/^left: /, 10_000); // billing said goodbye to orders
    expect((await billing.exited).signal).toBe('SIGTERM');
    expect(orders.lines.filter((l) => /^lost: /.test(l))).toEqual([]);
    await orders.stop();
  }, 60_000);

  test('failover: with instance B down, a request goes to instance A, the one presence reports alive', async () => {
    const [portA, portB] = [String(await freePort()), String(await freePort())];
    const server = app.start('server', { PORT: portA });
    await server.waitFor(/^orders-1 listening/);
    const gateway = app.start('failover', { ORDERS_A_PORT: portA, ORDERS_B_PORT: portB });
    await gateway.waitFor(/^reply: \{"id":"A-3","total":42\}$/);
    expect((await gateway.exited).code).toBe(0);
    await server.stop();
  }, 60_000);

  test('failover, as the README runs it: two instances, each with its own nodeId, both alive for the gateway', async () => {
    const [portA, portB] = [String(await freePort()), String(await freePort())];
    const a = app.start('server', { PORT: portA, NODE_ID: 'orders-1' });
    const b = app.start('server', { PORT: portB, NODE_ID: 'orders-2' });
    await a.waitFor(/^orders-1 listening/);
    await b.waitFor(/^orders-2 listening/);
    const gateway = app.start('failover', { ORDERS_A_PORT: portA, ORDERS_B_PORT: portB });
    await gateway.waitFor(/^reply: \{"id":"A-3","total":42\}$/);
    expect((await gateway.exited).code).toBe(0);
    for (const s of [a, b]) expect(s.lines.filter((l) => /replaced|superseded|lost:/.test(l))).toEqual([]);
    await a.stop();
    await b.stop();
  }, 60_000);

  if (name === 'nest12-esm') {
    test('under tsx (no decorator metadata) the client example runs: its injections use explicit tokens', async () => {
      const port = String(await freePort());
      const server = app.start('server', { PORT: port });
      await server.waitFor(/^orders-1 listening/);
      const tsx = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
      const client = new Program('client.ts under tsx', ['--import', tsx, join(app.dir, 'client.ts')], app.dir, { ORDERS_PORT: port });
      await client.waitFor(/^reply: \{"id":"A-1","total":42\}$/);
      await client.waitFor(/^orders-1 is alive$/); // PresenceService was injected
      await client.stop();
      await server.stop();
    }, 60_000);
  }
});
