/**
 * The lab's network-namespace helper (tests, demo, benchmarks): a veth link into a private
 * network namespace, for true half-open TCP faults.
 *
 *   root namespace                         namespace <name>
 *   <name>h  10.213.<n>.1/30  <== veth ==>  <name>n  10.213.<n>.2/30   (+ lo up)
 *
 * `linkDown()` sets only the namespace end administratively down. The root end stays up but loses
 * carrier, so its connected route stays (flagged `linkdown`) and packets for 10.213.<n>.2 are
 * dropped on the dead veth: nothing reaches the peer, nothing comes back, no FIN, no RST, no
 * error on either socket until a timer (keepalive, TCP_USER_TIMEOUT, retransmissions) expires.
 * Setting the root end down instead would delete the root-side routes and send traffic for
 * 10.213.<n>.2 out of the default route — see `linkDown` below.
 *
 * Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2; check `netnsAvailable()` first.
 */
import { execFile, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import { spawnTied } from './child.js';

export interface NetPair {
  /** Network namespace name (also the prefix of both interface names). */
  readonly name: string;
  /** Root-namespace end of the veth pair. */
  readonly hostInterface: string;
  /** Namespace end of the veth pair. */
  readonly nsInterface: string;
  /** 10.213.<n>.1, on `hostInterface`, in the root namespace. */
  readonly hostAddress: string;
  /** 10.213.<n>.2, on `nsInterface`, inside the namespace. */
  readonly nsAddress: string;
  /** Spawn `cmd args` inside the namespace (`ip netns exec`). Killed by `destroy()`. */
  exec(cmd: string, args?: readonly string[], opts?: SpawnOptions): ChildProcess;
  /** Cut the link without telling either side (namespace end down; resolves once the root end has lost carrier). */
  linkDown(): Promise<void>;
  /** Restore the link (resolves once the root end has carrier again). */
  linkUp(): Promise<void>;
  /** Kill exec'd children, delete the veth pair and the namespace. Idempotent. */
  destroy(): Promise<void>;
  /** The same, synchronously (for exit and signal handlers). Idempotent. */
  destroySync(): void;
}

export interface NetnsAvailability {
  ok: boolean;
  reason?: string;
}

const PREFIX = 'hb';
const SUBNET_BASE = '10.213';
const LOCK_DIR = join(tmpdir(), 'nest-heartbeat-netns');
const REGISTRY_KEY = Symbol.for('nest-heartbeat.test.netns.registry');

/** What is needed to tear a pair down synchronously (exit hook) or from another process (orphan reaping). */
interface PairRecord {
  pid: number;
  name: string;
  hostInterface: string;
  lockFile: string;
  children: Set<ChildProcess>;
  destroyed: boolean;
  /** The pair's own async destroy(), once the pair exists. */
  destroyAsync?: () => Promise<void>;
}

interface Registry {
  records: Set<PairRecord>;
  counter: number;
  hooksInstalled: boolean;
}

/**
 * The process whose 'exit' really fires. Inside jest, the global `process` is a per-test-file copy
 * whose EventEmitter state is reset (jest-util createProcessObject), so `process.on('exit')` there
 * never runs. `vm` is not sandboxed by jest, and `runInThisContext` evaluates in Node's main
 * context, where `process` is the real one.
 */
function hostProcess(): NodeJS.Process {
  try {
    const real = runInThisContext('process') as NodeJS.Process | undefined;
    if (real && typeof real.on === 'function' && typeof real.pid === 'number') return real;
  } catch {
    // fall through
  }
  return process;
}

/** One registry per OS process, shared by every module instance jest creates. */
function registry(): Registry {
  const host = hostProcess() as NodeJS.Process & { [REGISTRY_KEY]?: Registry };
  let reg = host[REGISTRY_KEY];
  if (!reg) {
    reg = { records: new Set(), counter: 0, hooksInstalled: false };
    host[REGISTRY_KEY] = reg;
  }
  if (!reg.hooksInstalled) {
    reg.hooksInstalled = true;
    installExitHooks(host, reg);
  }
  return reg;
}

function installExitHooks(host: NodeJS.Process, reg: Registry): void {
  const cleanupAll = (): void => {
    for (const record of reg.records) destroySync(record);
  };
  host.on('exit', cleanupAll);
  // A signal's default action skips 'exit'. Only take over signals nobody else handles, and
  // re-raise afterwards so the process still dies the way it would have.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (host.listenerCount(signal) > 0) continue;
    host.once(signal, () => {
      cleanupAll();
      host.kill(host.pid, signal);
    });
  }
}

function destroySync(record: PairRecord): void {
  if (record.destroyed) return;
  record.destroyed = true;
  for (const child of record.children) killChild(child);
  spawnSync('ip', ['link', 'del', record.hostInterface], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', record.name], { stdio: 'ignore' });
  try {
    unlinkSync(record.lockFile);
  } catch {
    // already gone
  }
}

function killChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(Object.assign(new Error(`ip ${args.join(' ')}: ${(stderr || error.message).trim()}`), { stderr }));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** `ip` for teardown: "already gone" is success. */
async function ipQuiet(args: readonly string[]): Promise<void> {
  try {
    await ip(args);
  } catch (error) {
    if (!/cannot find|no such|does not exist|not found/i.test(String((error as { stderr?: string }).stderr ?? error))) {
      throw error;
    }
  }
}

let availability: Promise<NetnsAvailability> | undefined;

/** Whether this process can create namespaces and veth pairs; `reason` says why not. Cached. */
export function netnsAvailable(): Promise<NetnsAvailability> {
  availability ??= probeAvailability();
  return availability;
}

async function probeAvailability(): Promise<NetnsAvailability> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces are Linux-only (platform ${process.platform})` };
  const uid = process.getuid?.();
  if (uid !== 0) return { ok: false, reason: `not root (uid ${uid}); ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN` };
  try {
    await ip(['-V']);
  } catch (error) {
    return { ok: false, reason: `iproute2 'ip' is not usable: ${(error as Error).message}` };
  }
  const probe = `${PREFIX}p${process.pid.toString(36)}`;
  try {
    await ip(['netns', 'add', probe]);
    try {
      await ip(['-n', probe, 'link', 'add', 'name', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
    } finally {
      await ipQuiet(['netns', 'del', probe]);
    }
  } catch (error) {
    return { ok: false, reason: `cannot create a network namespace with a veth pair: ${(error as Error).message}` };
  }
  return { ok: true };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove pairs left behind by processes that died without cleaning up (e.g. SIGKILL). */
function reapOrphans(): void {
  let files: string[];
  try {
    files = readdirSync(LOCK_DIR);
  } catch {
    return;
  }
  for (const file of files) {
    if (!file.endsWith('.lock')) continue;
    const lockFile = join(LOCK_DIR, file);
    let owner: Pick<PairRecord, 'pid' | 'name' | 'hostInterface'>;
    try {
      owner = JSON.parse(readFileSync(lockFile, 'utf8'));
    } catch {
      continue; // being written right now, or not ours
    }
    if (pidAlive(owner.pid)) continue;
    destroySync({ ...owner, lockFile, children: new Set(), destroyed: false });
  }
}

/** Claim a free 10.213.<n>.0/30 with an O_EXCL lock file; also skips subnets already on a root interface. */
function claimSubnet(owner: Pick<PairRecord, 'pid' | 'name' | 'hostInterface'>): { n: number; lockFile: string } {
  mkdirSync(LOCK_DIR, { recursive: true });
  const used = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'to', `${SUBNET_BASE}.0.0/16`], { encoding: 'utf8' }).stdout ?? '';
  const start = (owner.pid * 37) % 256;
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 256;
    if (used.includes(` ${SUBNET_BASE}.${n}.`)) continue;
    const lockFile = join(LOCK_DIR, `${n}.lock`);
    try {
      writeFileSync(lockFile, JSON.stringify(owner), { flag: 'wx' });
      return { n, lockFile };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`createNetPair: no free ${SUBNET_BASE}.<n>.0/30 subnet (see ${LOCK_DIR})`);
}

function readCarrier(iface: string): boolean | undefined {
  try {
    return readFileSync(`/sys/class/net/${iface}/carrier`, 'utf8').trim() === '1';
  } catch {
    return undefined; // EINVAL while the interface is admin-down
  }
}

async function waitForCarrier(iface: string, want: boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (readCarrier(iface) !== want) {
    if (Date.now() > deadline) throw new Error(`${iface}: carrier did not become ${want ? 'up' : 'down'} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Create a fresh namespace + veth pair. Call `destroy()` (or `destroyAllNetPairs()`) when done. */
export async function createNetPair(): Promise<NetPair> {
  const avail = await netnsAvailable();
  if (!avail.ok) throw new Error(`createNetPair: ${avail.reason}`);
  const reg = registry();
  if (reg.counter === 0) reapOrphans();

  const record: PairRecord = {
    pid: process.pid,
    name: '',
    hostInterface: '',
    lockFile: '',
    children: new Set(),
    destroyed: false,
  };
  reg.records.add(record);

  let n: number;
  try {
    // Unique per call: pid (base 36, <= 5 chars) + per-process counter. Interface names add one
    // character and must stay <= 15 (IFNAMSIZ - 1). A name that already exists can only be a
    // leftover of a dead process that had our pid; skip it.
    for (let attempt = 0; ; attempt++) {
      record.name = `${PREFIX}${process.pid.toString(36)}-${(reg.counter++).toString(36)}`;
      record.hostInterface = `${record.name}h`;
      if (record.hostInterface.length > 15) throw new Error(`createNetPair: interface name ${record.hostInterface} is too long`);
      const owner = { pid: record.pid, name: record.name, hostInterface: record.hostInterface };
      if (!record.lockFile) {
        const claimed = claimSubnet(owner); // lock first, so a crash from here on is reapable
        record.lockFile = claimed.lockFile;
        n = claimed.n;
      } else {
        writeFileSync(record.lockFile, JSON.stringify(owner));
      }
      try {
        await ip(['netns', 'add', record.name]);
        break;
      } catch (error) {
        if (attempt < 20 && /exists/i.test((error as Error).message)) continue;
        throw error;
      }
    }
    const { name, hostInterface } = record;
    const nsInterface = `${name}n`;
    await ip(['link', 'add', 'name', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', name]);
    await ip(['addr', 'add', `${SUBNET_BASE}.${n!}.1/30`, 'dev', hostInterface]);
    await ip(['-n', name, 'addr', 'add', `${SUBNET_BASE}.${n!}.2/30`, 'dev', nsInterface]);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    await ip(['-n', name, 'link', 'set', nsInterface, 'up']);
    // linkDown() relies on the root end keeping its route while it has no carrier (see there).
    writeFileSync(`/proc/sys/net/ipv4/conf/${hostInterface}/ignore_routes_with_linkdown`, '0');
    await ip(['link', 'set', hostInterface, 'up']);
    await waitForCarrier(hostInterface, true);
  } catch (error) {
    destroySync(record);
    reg.records.delete(record);
    throw error;
  }
  const { name, hostInterface } = record;
  const nsInterface = `${name}n`;
  const hostAddress = `${SUBNET_BASE}.${n!}.1`;
  const nsAddress = `${SUBNET_BASE}.${n!}.2`;

  let destroying: Promise<void> | undefined;
  const assertLive = (what: string): void => {
    if (record.destroyed || destroying) throw new Error(`NetPair ${name}: ${what} after destroy()`);
  };

  const pair: NetPair = {
    name,
    hostInterface,
    nsInterface,
    hostAddress,
    nsAddress,

    exec(cmd, args = [], opts = {}) {
      assertLive('exec');
      const child = spawnTied(cmd, args, { ...opts, netns: name });
      record.children.add(child);
      child.once('exit', () => record.children.delete(child));
      child.once('error', () => record.children.delete(child));
      return child;
    },

    async linkDown() {
      assertLive('linkDown');
      // Only the namespace end. Downing the root end would remove its connected route, and the
      // root namespace would then route 10.213.<n>.2 out of its default route (a real NIC).
      // Same if the kernel ignored routes on carrier-less links, so refuse in that case.
      if (readFileSync('/proc/sys/net/ipv4/conf/all/ignore_routes_with_linkdown', 'utf8').trim() !== '0') {
        throw new Error(
          `NetPair ${name}: net.ipv4.conf.all.ignore_routes_with_linkdown is set; linkDown() would leak traffic for ${nsAddress} to the default route`,
        );
      }
      await ip(['-n', name, 'link', 'set', nsInterface, 'down']);
      await waitForCarrier(hostInterface, false);
    },

    async linkUp() {
      assertLive('linkUp');
      await ip(['-n', name, 'link', 'set', nsInterface, 'up']);
      await waitForCarrier(hostInterface, true);
    },

    destroy() {
      destroying ??= (async () => {
        if (record.destroyed) {
          reg.records.delete(record);
          return;
        }
        const exits = [...record.children].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(resolve, 2000); // never hang a test run on a stuck child
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              killChild(child);
            }),
        );
        await Promise.all(exits);
        await ipQuiet(['link', 'del', hostInterface]); // removes both ends
        await ipQuiet(['netns', 'del', name]);
        try {
          unlinkSync(record.lockFile);
        } catch {
          // already gone
        }
        record.destroyed = true;
        reg.records.delete(record);
      })();
      return destroying;
    },

    destroySync() {
      destroySync(record);
      reg.records.delete(record);
    },
  };
  record.destroyAsync = () => pair.destroy();
  return pair;
}

/** Destroy every pair this process created and has not destroyed yet (for afterAll). */
export async function destroyAllNetPairs(): Promise<void> {
  const reg = registry();
  await Promise.all(
    [...reg.records].map(async (record) => {
      if (record.destroyAsync) return record.destroyAsync();
      destroySync(record); // creation still in flight
      reg.records.delete(record);
    }),
  );
}
