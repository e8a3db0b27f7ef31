import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { setKeepAliveInterval, setKeepAliveProbes, setUserTimeout } from 'net-keepalive';
import { createNetPair, destroyAllNetPairs, netnsAvailable, type NetPair } from '../../lab/netns.js';
import { realFaultsRequired, testIfAvailable } from './real-faults.js';
import { readSocketOptions } from './sockopt.js';

const availability = await netnsAvailable();
if (!availability.ok) console.warn(`netns.spec: ${realFaultsRequired() ? 'FAILING (CI as root)' : 'skipping'} namespace tests: ${availability.reason}`);
const t = testIfAvailable(availability);

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NETNS_MODULE = new URL('../../lab/netns.ts', import.meta.url).href;
/** Run a .mts file in ONE node process (the tsx CLI would add a parent process relaying signals). */
const tsNode = (script: string, ...args: string[]) => [process.execPath, ['--import', 'tsx', script, ...args]] as const;

/** Line-echo server run inside the namespace; reports its socket events on stdout. */
const SERVER_SRC = `
const net = require('net');
const server = net.createServer((s) => {
  console.log('EVENT connection');
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) s.write('pong ' + buf.slice(0, i) + '\\n');
  });
  s.on('end', () => console.log('EVENT end'));
  s.on('error', (e) => console.log('EVENT error ' + e.code));
  s.on('close', () => console.log('EVENT close'));
});
server.listen(0, process.argv[1], () => console.log('LISTENING ' + server.address().port));
`;

interface NsServer {
  child: ChildProcess;
  port: number;
  /** Socket events seen by the server ('connection', 'end', 'error ECODE', 'close'). */
  events: string[];
}

async function startServer(pair: NetPair): Promise<NsServer> {
  const child = pair.exec(process.execPath, ['-e', SERVER_SRC, pair.nsAddress], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolvePort, reject) => {
    child.once('exit', (code) => reject(new Error(`server in ${pair.name} exited (${code}) before listening`)));
    lines.on('line', (line) => {
      if (line.startsWith('LISTENING ')) resolvePort(Number(line.slice(10)));
      else if (line.startsWith('EVENT ')) events.push(line.slice(6));
    });
  });
  return { child, port, events };
}

async function connect(host: string, port: number): Promise<net.Socket> {
  const socket = net.connect(port, host);
  await once(socket, 'connect');
  return socket;
}

/** Send one line, read one line back. (Not readline: it re-emits socket errors on the interface.) */
async function exchange(socket: net.Socket, text: string): Promise<string> {
  socket.write(`${text}\n`);
  let buf = '';
  while (!buf.includes('\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    buf += chunk.toString('utf8');
  }
  return buf.slice(0, buf.indexOf('\n'));
}

/** Records 'end' / 'close' / 'error' on a socket with the time since `since()`. */
function watch(socket: net.Socket, since: () => number) {
  const events: string[] = [];
  const failed = new Promise<{ error: NodeJS.ErrnoException; elapsedMs: number }>((resolveErr) => {
    socket.on('error', (error: NodeJS.ErrnoException) => {
      events.push(`error ${error.code}`);
      resolveErr({ error, elapsedMs: Date.now() - since() });
    });
  });
  socket.on('end', () => events.push('end'));
  socket.on('close', () => events.push('close'));
  return { events, failed };
}

const sockets: net.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});
afterEach(() => destroyAllNetPairs());
afterAll(() => destroyAllNetPairs());

describe(`netns harness${availability.ok ? '' : ` [skipped: ${availability.reason}]`}`, () => {
  t('(a) a server inside the namespace answers a client in the root namespace', async () => {
    const pair = await createNetPair();
    expect(pair.name).toMatch(/^hb[0-9a-z]+-[0-9a-z]+$/);
    expect(pair.hostInterface.length).toBeLessThanOrEqual(15);
    expect(pair.nsInterface.length).toBeLessThanOrEqual(15);
    expect(pair.hostAddress).toMatch(/^10\.213\.\d+\.1$/);
    expect(pair.nsAddress).toBe(pair.hostAddress.replace(/\.1$/, '.2'));

    const server = await startServer(pair);
    const client = await connect(pair.nsAddress, server.port);
    sockets.push(client);
    expect(client.localAddress).toBe(pair.hostAddress);
    expect(await exchange(client, 'ping')).toBe('pong ping');
    // The server logs on its stdout pipe, which can lag behind its TCP reply.
    for (const deadline = Date.now() + 2000; server.events.length === 0 && Date.now() < deadline; ) await sleep(10);
    expect(server.events).toEqual(['connection']);
    await pair.destroy();
  });

  t('(b) linkDown() makes a true half-open connection; kernel keepalive then fails it', async () => {
    const pair = await createNetPair();
    const server = await startServer(pair);
    const client = await connect(pair.nsAddress, server.port);
    sockets.push(client);
    expect(await exchange(client, 'before')).toBe('pong before');

    client.setKeepAlive(true, 1000);
    setKeepAliveInterval(client, 1000);
    setKeepAliveProbes(client, 2);
    expect(readSocketOptions(client)).toMatchObject({ keepAlive: true, keepIdleMs: 1000, keepIntervalMs: 1000, keepCount: 2 });

    let downAt = 0;
    const watched = watch(client, () => downAt);
    await pair.linkDown();
    downAt = Date.now();

    await sleep(1500);
    // No FIN, no RST, no error on either side.
    expect(watched.events).toEqual([]);
    expect(server.events).toEqual(['connection']);

    const { error, elapsedMs } = await watched.failed;
    console.log(`keepalive 1s/1s/x2 after linkDown: ${error.code} (errno ${error.errno}) after ${elapsedMs} ms`);
    expect(error.code).toBe('ETIMEDOUT');
    expect(elapsedMs).toBeGreaterThanOrEqual(1500);
    expect(elapsedMs).toBeLessThan(6000);
    // The namespace side is still oblivious: half-open from its point of view.
    expect(server.events).toEqual(['connection']);
  });

  t('(b2) TCP_USER_TIMEOUT with unacked data: ETIMEDOUT before ARP gives up, EHOSTUNREACH after', async () => {
    const run = async (userTimeoutMs: number) => {
      const pair = await createNetPair();
      const server = await startServer(pair);
      const client = await connect(pair.nsAddress, server.port);
      sockets.push(client);
      expect(await exchange(client, 'before')).toBe('pong before');
      setUserTimeout(client, userTimeoutMs);
      let downAt = 0;
      const watched = watch(client, () => downAt);
      await pair.linkDown();
      downAt = Date.now();
      client.write('never acked\n');
      const { error, elapsedMs } = await watched.failed;
      console.log(`TCP_USER_TIMEOUT ${userTimeoutMs} ms with unacked data: ${error.code} (errno ${error.errno}) after ${elapsedMs} ms`);
      expect(server.events).toEqual(['connection']);
      return { code: error.code, elapsedMs };
    };
    // The root end's ARP entry is flushed when it loses carrier; re-resolving fails after
    // 3 probes x 1 s, and the kernel's own ICMP host-unreachable sets sk_err_soft, which
    // tcp_write_err() reports instead of ETIMEDOUT.
    const [short, long] = await Promise.all([run(1500), run(4500)]);
    expect(short.code).toBe('ETIMEDOUT');
    expect(short.elapsedMs).toBeGreaterThanOrEqual(1400);
    expect(short.elapsedMs).toBeLessThan(3000);
    expect(long.code).toBe('EHOSTUNREACH');
    expect(long.elapsedMs).toBeGreaterThanOrEqual(4400);
    expect(long.elapsedMs).toBeLessThan(6500);
  });

  t('(b3) linkUp() restores the link and the connection survives a short outage', async () => {
    const pair = await createNetPair();
    const server = await startServer(pair);
    const client = await connect(pair.nsAddress, server.port);
    sockets.push(client);
    expect(await exchange(client, 'one')).toBe('pong one');
    await pair.linkDown();
    await sleep(200);
    await pair.linkUp();
    expect(await exchange(client, 'two')).toBe('pong two');
  });

  t('(c) destroy() removes namespace, veth pair and children, and is idempotent', async () => {
    const pair = await createNetPair();
    const child = pair.exec('sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(pair.name);
    expect(spawnSync('ip', ['link', 'show', 'dev', pair.hostInterface]).status).toBe(0);

    const exited = once(child, 'exit');
    await Promise.all([pair.destroy(), pair.destroy()]);
    await pair.destroy();
    await exited;

    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(pair.name);
    expect(existsSync(`/var/run/netns/${pair.name}`)).toBe(false);
    expect(spawnSync('ip', ['link', 'show', 'dev', pair.hostInterface]).status).not.toBe(0);
    expect(execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })).not.toContain(pair.name);
    expect(execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' })).not.toContain(` ${pair.hostAddress}/`);
    expect(() => pair.exec('true')).toThrow(/after destroy/);
  });

  t('(c2) pairs are removed when the owning process exits or is killed by SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hb-netns-'));
    try {
      const script = join(dir, 'owner.mts');
      writeFileSync(
        script,
        `import { createNetPair } from ${JSON.stringify(NETNS_MODULE)};
const pair = await createNetPair();
console.log(JSON.stringify({ name: pair.name, hostInterface: pair.hostInterface }));
// Wait for the parent's go-ahead (one line on stdin), then exit without destroying the pair.
if (process.argv[2] === 'exit') process.stdin.once('data', () => process.exit(0));
setInterval(() => {}, 1000);
`,
      );
      const runOwner = async (mode: 'exit' | 'sigterm') => {
        const [cmd, args] = tsNode(script, mode);
        const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
        const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
        const made = JSON.parse(line) as { name: string; hostInterface: string };
        expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(made.name);
        if (mode === 'sigterm') child.kill('SIGTERM');
        else child.stdin!.write('go\n');
        const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
        if (mode === 'sigterm') expect(signal).toBe('SIGTERM');
        expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(made.name);
        expect(spawnSync('ip', ['link', 'show', 'dev', made.hostInterface]).status).not.toBe(0);
      };
      await Promise.all([runOwner('exit'), runOwner('sigterm')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('netnsAvailable', () => {
  const root = process.getuid?.() === 0;
  const setpriv = spawnSync('setpriv', ['--version']).status === 0;
  const canDrop = setpriv && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'true']).status === 0;
  const privilegeTest = root
    ? testIfAvailable({
      ok: canDrop,
      reason: setpriv ? 'setpriv cannot drop to uid 65534 here (no CAP_SETUID?)' : 'util-linux setpriv is not installed (needed to drop privileges)',
    })
    : (name: string, fn: () => unknown) => test.skip(`${name} — SKIPPED: not root, cannot drop privileges`, fn as never);
  privilegeTest('reports ok:false with a reason for a non-root user', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hb-netns-'));
    try {
      // uid 65534 may not read the checkout (a root home, a private mktemp -d): it runs a plain
      // JavaScript bundle of the module, built here, from a directory it can read.
      const { build } = await import('esbuild');
      await build({
        entryPoints: [fileURLToPath(NETNS_MODULE)], bundle: true, platform: 'node', format: 'esm',
        outfile: join(dir, 'netns.mjs'), logLevel: 'silent',
      });
      const script = join(dir, 'probe.mjs');
      writeFileSync(script, `import { netnsAvailable } from './netns.mjs';\nconsole.log(JSON.stringify(await netnsAvailable()));\n`);
      for (const f of ['netns.mjs', 'probe.mjs']) chmodSync(join(dir, f), 0o644);
      chmodSync(dir, 0o755); // readable by uid 65534
      const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, script], {
        cwd: dir,
        encoding: 'utf8',
      });
      const result = JSON.parse(out.trim().split('\n').pop()!);
      expect(result.ok).toBe(false);
      expect(result.reason).toMatch(/not root \(uid 65534\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  t('reports ok:true here', async () => {
    expect(await netnsAvailable()).toEqual({ ok: true });
  });

  // Runs only when the namespace tests did not: its reason must be true, checked here
  // independently of netnsAvailable(), and in CI as root it is a failure.
  (availability.ok ? test.skip : test)(`explains why namespaces are unavailable here: ${availability.reason}`, () => {
    if (realFaultsRequired()) throw new Error(`CI as root, but network namespaces are unavailable: ${availability.reason}`);
    const reason = availability.reason ?? '';
    if (/Linux-only/.test(reason)) {
      expect(process.platform).not.toBe('linux');
    } else if (/not root/.test(reason)) {
      expect(process.getuid?.()).not.toBe(0);
    } else if (/'ip' is not usable/.test(reason)) {
      expect(spawnSync('ip', ['-V']).status).not.toBe(0);
    } else if (/cannot create a network namespace/.test(reason)) {
      const probe = `hbx${process.pid.toString(36)}`;
      const made = spawnSync('ip', ['netns', 'add', probe], { stdio: 'ignore' }).status === 0
        && spawnSync('ip', ['-n', probe, 'link', 'add', 'name', 'x0', 'type', 'veth', 'peer', 'name', 'x1'], { stdio: 'ignore' }).status === 0;
      spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
      expect(made).toBe(false);
    } else {
      throw new Error(`netnsAvailable gave a reason this test cannot check: ${reason}`);
    }
  });
});
