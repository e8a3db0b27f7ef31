/**
 * Benchmark processes talk over stdio: the parent writes JSON commands on the child's stdin,
 * the child answers with lines `@@<json>` on stdout (anything else, e.g. Nest's logger, is kept
 * as log text). A child exits when its stdin closes, so no run leaves orphans behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const MARK = '@@';
const children = new Set<Child>();
let hooks = false;

function installHooks(): void {
  if (hooks) return;
  hooks = true;
  process.on('exit', () => {
    for (const c of children) c.killNow();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of children) c.killNow();
      process.exit(130);
    });
  }
}

export interface SpawnOptions {
  /** Extra node flags (e.g. --expose-gc, --cpu-prof). */
  execArgv?: string[];
  /** Raise the soft fd limit of the child to this (capped at the hard limit) through bash's ulimit. */
  fdLimit?: number;
  /** Run inside `ip netns exec <name>`. */
  netns?: string;
  env?: Record<string, string>;
  label?: string;
  cwd?: string;
}

export class Child {
  readonly proc: ChildProcess;
  readonly label: string;
  readonly logs: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly messages: any[] = [];
  private waiters: Array<() => void> = [];
  private nextId = 1;

  constructor(script: string, args: string[] = [], options: SpawnOptions = {}) {
    installHooks();
    this.label = options.label ?? script.split('/').pop()!;
    const node = [process.execPath, ...(options.execArgv ?? []), '--import', 'tsx', script, ...args];
    let cmd: string[] = node;
    if (options.fdLimit) {
      // `ulimit -n N` fails above the hard limit, so ask for min(N, hard).
      cmd = ['bash', '-c', `h=$(ulimit -Hn); n=${options.fdLimit}; [ "$h" != unlimited ] && [ "$h" -lt "$n" ] && n=$h; ulimit -n "$n" && exec "$@"`, 'bash', ...cmd];
    }
    if (options.netns) cmd = ['ip', 'netns', 'exec', options.netns, ...cmd];
    this.proc = spawn(cmd[0], cmd.slice(1), {
      stdio: ['pipe', 'pipe', 'pipe'],
      cwd: options.cwd,
      env: { ...process.env, NODE_OPTIONS: '', ...options.env },
    });
    children.add(this);
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      if (line.startsWith(MARK)) {
        try {
          this.messages.push(JSON.parse(line.slice(MARK.length)));
        } catch {
          this.keepLog(line);
        }
      } else {
        this.keepLog(line);
      }
      this.wake();
    });
    createInterface({ input: this.proc.stderr! }).on('line', (line) => this.keepLog(line));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => {
      children.delete(this);
      this.wake();
      resolve(code ?? (signal ? -1 : null));
    }));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private keepLog(line: string): void {
    this.logs.push(line);
    if (this.logs.length > 200) this.logs.splice(0, this.logs.length - 200);
    if (process.env.BENCH_VERBOSE) process.stderr.write(`  [${this.label}] ${line}\n`);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** First message (already received or to come) matching `pred`; removes it from the queue. */
  async waitFor(pred: (m: any) => boolean, timeoutMs = 30_000, what = 'message'): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex(pred);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0 || !this.alive) {
        throw new Error(`${this.label} (pid ${this.pid}): no ${what} within ${timeoutMs} ms (alive=${this.alive})\n${this.logs.slice(-20).join('\n')}`);
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

  ready(timeoutMs = 30_000): Promise<any> {
    return this.waitFor((m) => m.evt === 'ready', timeoutMs, 'ready');
  }

  /** Sends a command and resolves with its result (the child's handler return value). */
  async request<T = any>(cmd: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const id = this.nextId++;
    this.send({ ...cmd, id });
    const reply = await this.waitFor((m) => m.re === id, timeoutMs, `reply to ${String(cmd.cmd)}`);
    if (reply.error) throw new Error(`${this.label}: ${String(cmd.cmd)} failed: ${reply.error}`);
    return reply.result as T;
  }

  send(cmd: Record<string, unknown>): void {
    if (this.alive) this.proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(sig);
  }

  /** Asks the child to exit (it runs `exit` handlers, so --cpu-prof is written), kills it after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.send({ cmd: 'exit' });
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.killNow(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  killNow(): void {
    if (!this.alive) return;
    try {
      this.proc.kill('SIGCONT');
      this.proc.kill('SIGKILL');
    } catch {
      // gone
    }
  }
}

/* ---------------- child side ---------------- */

export function emit(message: Record<string, unknown>): void {
  process.stdout.write(`${MARK}${JSON.stringify(message)}\n`);
}

export type CommandHandler = (cmd: Record<string, any>) => unknown;

/**
 * Serves commands from stdin. `exit` (or stdin closing) calls `onExit` then exits, so
 * --cpu-prof profiles get written.
 */
export function serveCommands(handler: CommandHandler, onExit: () => unknown = () => undefined): void {
  let exiting = false;
  const exit = async () => {
    if (exiting) return;
    exiting = true;
    try {
      await onExit();
    } catch {
      // exiting anyway
    }
    process.exit(0);
  };
  createInterface({ input: process.stdin }).on('line', async (line) => {
    let cmd: Record<string, any>;
    try {
      cmd = JSON.parse(line);
    } catch {
      return;
    }
    if (cmd.cmd === 'exit') return exit();
    try {
      const result = await handler(cmd);
      emit({ re: cmd.id, result: result ?? null });
    } catch (e) {
      emit({ re: cmd.id, error: (e as Error)?.stack ?? String(e) });
    }
  }).on('close', () => void exit());
}
