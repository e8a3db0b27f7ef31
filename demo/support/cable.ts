/**
 * Demo plumbing: a "network cable" to pull. One peer runs in a private network namespace,
 * joined to this one by a veth pair:
 *
 *   this namespace                             namespace hbdemo<pid>
 *   hbd<pid>h  10.213.<n>.1/30  <== veth ==>  hbd<pid>n  10.213.<n>.2/30
 *
 * The server listens on 10.213.<n>.1 (a local address: the other peers reach it over loopback).
 * `cut()` sets the namespace end down: from then on nothing crosses, no FIN, no RST, no socket
 * error on either side, exactly like a pulled cable; only heartbeats (or keepalive, later) notice.
 *
 * Needs root and iproute2. The namespace and the veth pair are always removed: `destroy()` at
 * the end, and synchronously on exit, Ctrl-C and SIGTERM; pairs left by a demo that was
 * SIGKILLed are removed on the next start. The /30 is claimed with a lock file in the directory
 * the test suite's fault lab uses, so a demo and a test run never pick the same subnet.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK_DIR = join(tmpdir(), 'nest-heartbeat-netns');
const NS_PREFIX = 'hbdemo';

function ip(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8' }, (error, stdout, stderr) =>
      error ? reject(new Error(`ip ${args.join(' ')}: ${(stderr || error.message).trim()}`)) : resolve(stdout));
  });
}

const ipSync = (...args: string[]) => spawnSync('ip', args, { stdio: 'ignore' });

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export class Cable {
  private destroyed = false;

  private constructor(
    readonly namespace: string,
    readonly hostInterface: string,
    readonly nsInterface: string,
    readonly hostAddress: string,
    readonly nsAddress: string,
    private readonly lockFile: string,
  ) {}

  /** Why the cable fault cannot run here, or undefined when it can. */
  static async unavailable(): Promise<string | undefined> {
    if (process.platform !== 'linux') return `network namespaces are Linux-only (this is ${process.platform})`;
    if (process.getuid?.() !== 0) return `not root (uid ${process.getuid?.()}): ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN; run with sudo to include it`;
    try {
      await ip('netns', 'list');
    } catch (error) {
      return `iproute2 "ip netns" is not usable: ${(error as Error).message}`;
    }
    return undefined;
  }

  static async create(): Promise<Cable> {
    reapOrphans();
    const id = process.pid.toString(36);
    const namespace = `${NS_PREFIX}${id}`;
    const hostInterface = `hbd${id}h`; // <= 15 characters (IFNAMSIZ)
    const nsInterface = `hbd${id}n`;
    const { n, lockFile } = claimSubnet({ pid: process.pid, name: namespace, hostInterface });
    const cable = new Cable(namespace, hostInterface, nsInterface, `10.213.${n}.1`, `10.213.${n}.2`, lockFile);
    try {
      await ip('netns', 'add', namespace);
      await ip('link', 'add', 'name', hostInterface, 'type', 'veth', 'peer', 'name', nsInterface, 'netns', namespace);
      await ip('addr', 'add', `${cable.hostAddress}/30`, 'dev', hostInterface);
      await ip('-n', namespace, 'addr', 'add', `${cable.nsAddress}/30`, 'dev', nsInterface);
      await ip('-n', namespace, 'link', 'set', 'lo', 'up');
      await ip('-n', namespace, 'link', 'set', nsInterface, 'up');
      await ip('link', 'set', hostInterface, 'up');
      await cable.waitForCarrier(true);
    } catch (error) {
      cable.destroySync();
      throw error;
    }
    return cable;
  }

  /** Pull the cable: the namespace end goes down, the host end loses carrier. */
  async cut(): Promise<void> {
    await ip('-n', this.namespace, 'link', 'set', this.nsInterface, 'down');
    await this.waitForCarrier(false);
  }

  /** Deletes the veth pair (both ends) and the namespace. Idempotent; safe in exit handlers. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    ipSync('link', 'del', this.hostInterface);
    ipSync('netns', 'del', this.namespace);
    try {
      unlinkSync(this.lockFile);
    } catch {
      // already gone
    }
  }

  private async waitForCarrier(up: boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let carrier: boolean | undefined;
      try {
        carrier = readFileSync(`/sys/class/net/${this.hostInterface}/carrier`, 'utf8').trim() === '1';
      } catch {
        carrier = undefined;
      }
      if (carrier === up) return;
      if (Date.now() > deadline) throw new Error(`${this.hostInterface}: carrier still ${up ? 'down' : 'up'} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** A free 10.213.<n>.0/30: not on any interface here, and locked (O_EXCL) against concurrent runs. */
function claimSubnet(owner: { pid: number; name: string; hostInterface: string }): { n: number; lockFile: string } {
  mkdirSync(LOCK_DIR, { recursive: true });
  const used = spawnSync('ip', ['-4', '-o', 'addr', 'show', 'to', '10.213.0.0/16'], { encoding: 'utf8' }).stdout ?? '';
  const start = (owner.pid * 37 + 128) % 256;
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 256;
    if (used.includes(` 10.213.${n}.`)) continue;
    const lockFile = join(LOCK_DIR, `${n}.lock`);
    try {
      writeFileSync(lockFile, JSON.stringify(owner), { flag: 'wx' });
      return { n, lockFile };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  throw new Error(`no free 10.213.<n>.0/30 subnet (see ${LOCK_DIR})`);
}

/** Namespaces, veth pairs and locks of earlier demos that died without cleaning up (SIGKILL). */
function reapOrphans(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const [, id] of list.matchAll(new RegExp(`^${NS_PREFIX}([0-9a-z]+)\\b`, 'gm'))) {
    if (pidAlive(parseInt(id, 36))) continue;
    ipSync('link', 'del', `hbd${id}h`);
    ipSync('netns', 'del', `${NS_PREFIX}${id}`);
  }
  let files: string[] = [];
  try {
    files = readdirSync(LOCK_DIR);
  } catch {
    return;
  }
  for (const file of files) {
    try {
      const lock = JSON.parse(readFileSync(join(LOCK_DIR, file), 'utf8'));
      if (String(lock.name).startsWith(NS_PREFIX) && !pidAlive(lock.pid)) unlinkSync(join(LOCK_DIR, file));
    } catch {
      // not ours, or being written
    }
  }
}
