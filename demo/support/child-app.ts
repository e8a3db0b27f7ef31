/**
 * Demo plumbing: one Nest app (server-app.ts or peer-app.ts) in a child process.
 *
 * The app prints JSON lines on stdout: its own reports (`{ "evt": ... }`) and, because it uses
 * Nest's JSON console logger, its log records (`{ "level": ... }`). The child gets its own
 * process group, so a Ctrl-C in the terminal reaches only the demo, which then cleans up; and
 * it exits by itself when its stdin closes, so even a demo killed with SIGKILL leaves no app
 * behind (except one frozen with SIGSTOP, which the demo always resumes or kills).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Report {
  evt: string;
  [key: string]: any;
}

export interface LogRecord {
  level: string;
  message: unknown;
  context?: string;
}

const running = new Set<ChildApp>();

export class ChildApp {
  readonly child: ChildProcess;
  readonly reports: Report[] = [];
  readonly exited: Promise<void>;
  private readonly stderr: string[] = [];
  private waiters: Array<() => void> = [];

  constructor(
    readonly name: string,
    script: string,
    env: Record<string, string>,
    options: {
      netns?: string;
      onReport?: (r: Report) => void;
      onLog?: (l: LogRecord) => void;
      /** Which reports `waitFor` needs to find later (default: all). */
      keep?: (r: Report) => boolean;
    } = {},
  ) {
    const node = [process.execPath, '--import', 'tsx', script];
    const [cmd, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...node] : node;
    this.child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1', ...env },
    });
    running.add(this);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.stderr.push(line);
        return;
      }
      if (typeof parsed.evt === 'string') {
        if (options.keep?.(parsed as Report) ?? true) this.reports.push(parsed as Report);
        options.onReport?.(parsed as Report);
        for (const wake of this.waiters.splice(0)) wake();
      } else if (typeof parsed.level === 'string') {
        options.onLog?.(parsed as unknown as LogRecord);
      }
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      try {
        const record = JSON.parse(line);
        if (typeof record.level === 'string') options.onLog?.(record);
      } catch {
        // plain stderr text (a crash trace): kept for the error message
      }
    });
    this.child.on('error', (error) => this.stderr.push(String(error)));
    this.exited = new Promise((resolve) => this.child.on('close', () => {
      running.delete(this);
      for (const wake of this.waiters.splice(0)) wake();
      resolve();
    }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.child.kill(sig);
  }

  /** The first report (already received or to come) matching `predicate`. */
  async waitFor(predicate: (r: Report) => boolean, timeoutMs: number, what: string): Promise<Report> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.reports.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || !this.alive) {
        throw new Error(`${this.name} (pid ${this.pid}): no ${what} within ${timeoutMs} ms${this.alive ? '' : ' (it exited)'}`
          + (this.stderr.length ? `\n${this.stderr.slice(-12).join('\n')}` : ''));
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** SIGTERM (the app shuts down gracefully), SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.alive) return;
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Synchronous last resort (exit, signals): every child still running is resumed and killed. */
export function killAllChildren(): void {
  for (const app of running) {
    app.signal('SIGCONT');
    app.signal('SIGKILL');
  }
}

export function runningChildren(): number {
  return running.size;
}
