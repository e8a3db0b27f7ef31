import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');

export interface Line { evt: string; t: number; [key: string]: any }

const running = new Set<LineProcess>();

/** A fixture in a child process that prints JSON lines and reads JSON commands (like test/support/peer-process.ts). */
export class LineProcess {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(fixture: string, args: string[]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, fixture), ...args],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
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

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitFor(predicate: (line: Line) => boolean, timeoutMs = 15_000, what = 'line'): Promise<Line> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || !this.alive) {
        throw new Error(`${this.child.pid}: no ${what} within ${timeoutMs} ms (alive=${this.alive})\nstdout: ${JSON.stringify(this.lines.slice(-12))}\nstderr: ${this.stderr.slice(-15).join('\n')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  select(predicate: (line: Line) => boolean): Line[] {
    return this.lines.filter(predicate);
  }

  command(cmd: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGCONT');
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}
