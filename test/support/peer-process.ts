import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { PeerAppConfig } from '../fixtures/peer-app.js';
import { spawnTied } from './tied-child.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'peer-app.ts');

/** One JSON line printed by the peer app. */
export interface PeerLine {
  evt: string;
  t: number;
  [key: string]: any;
}

const running = new Set<PeerProcess>();

/** A real Nest peer app in a child process (optionally inside a network namespace). */
export class PeerProcess {
  readonly child: ChildProcess;
  readonly lines: PeerLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(config: PeerAppConfig, options: { netns?: string } = {}) {
    // Tied to this process: a peer left stopped (SIGSTOP) dies with the runner all the same.
    this.child = spawnTied(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(config)], {
      netns: options.netns, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' },
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line));
      } catch {
        this.stderr.push(line);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => {
      running.delete(this);
      for (const w of this.waiters.splice(0)) w();
      resolve(code);
    }));
    running.add(this);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first line (already printed or to come) matching `predicate`. */
  async waitFor(predicate: (line: PeerLine) => boolean, timeoutMs = 15_000, what = 'line'): Promise<PeerLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || !this.alive) {
        throw new Error(`peer ${this.pid}: no ${what} within ${timeoutMs} ms (alive=${this.alive})\nstdout: ${JSON.stringify(this.lines.slice(-10))}\nstderr: ${this.stderr.slice(-15).join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  ready(timeoutMs = 20_000): Promise<PeerLine> {
    return this.waitFor((l) => l.evt === 'ready', timeoutMs, 'ready');
  }

  /** The first presence event of `type` (for peer `id`, if given) printed after `since`. */
  presence(type: string, id?: string, since = 0, timeoutMs = 15_000): Promise<PeerLine> {
    return this.waitFor((l) => l.evt === 'presence' && l.type === type && (id === undefined || l.id === id) && l.t >= since,
      timeoutMs, `presence ${type}${id ? ` of ${id}` : ''}`);
  }

  command(cmd: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Graceful shutdown through the app's own close (goodbye on every link). */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.command({ cmd: 'close' });
    await this.exited;
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Kills every peer still running (afterEach/afterAll), including stopped ones. */
export async function killAllPeers(): Promise<void> {
  await Promise.all([...running].map((p) => {
    p.child.kill('SIGCONT');
    return p.kill();
  }));
}
