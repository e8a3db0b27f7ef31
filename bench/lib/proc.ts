/**
 * Benchmark processes talk over stdio: the parent writes JSON commands on the child's stdin,
 * the child answers with lines `@@<json>` on stdout (anything else, e.g. Nest's logger, is kept
 * as log text). A child exits when its stdin closes, and it is tied to the parent's life (the
 * lab's child-process helper, lab/child.ts), so no run leaves orphans behind.
 */
import { createInterface } from 'node:readline';
import { killAllChildrenNow, LineProcess } from '../../lab/child.js';

const MARK = '@@';
let hooks = false;

function installHooks(): void {
  if (hooks) return;
  hooks = true;
  process.on('exit', () => killAllChildrenNow());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllChildrenNow();
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
  private readonly lp: LineProcess<any>;
  readonly label: string;
  readonly exited: Promise<number | null>;
  private nextId = 1;

  constructor(script: string, args: string[] = [], options: SpawnOptions = {}) {
    installHooks();
    this.label = options.label ?? script.split('/').pop()!;
    const { fdLimit } = options;
    this.lp = new LineProcess<any>(script, args, {
      label: this.label,
      execArgv: options.execArgv,
      netns: options.netns,
      env: options.env,
      cwd: options.cwd,
      // `ulimit -n N` fails above the hard limit, so ask for min(N, hard).
      wrap: fdLimit
        ? (argv) => ['bash', '-c', `h=$(ulimit -Hn); n=${fdLimit}; [ "$h" != unlimited ] && [ "$h" -lt "$n" ] && n=$h; ulimit -n "$n" && exec "$@"`, 'bash', ...argv]
        : undefined,
      parse: (line) => {
        if (!line.startsWith(MARK)) return undefined;
        try {
          return JSON.parse(line.slice(MARK.length));
        } catch {
          return undefined;
        }
      },
      onLog: (line) => {
        if (process.env.BENCH_VERBOSE) process.stderr.write(`  [${this.label}] ${line}\n`);
      },
    });
    this.exited = new Promise((resolve) => this.lp.child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  get proc() {
    return this.lp.child;
  }

  get logs(): string[] {
    return this.lp.logs;
  }

  get pid(): number {
    return this.lp.pid;
  }

  get alive(): boolean {
    return this.lp.alive;
  }

  /** First message (already received or to come) matching `pred`; removes it from the queue. */
  waitFor(pred: (m: any) => boolean, timeoutMs = 30_000, what = 'message'): Promise<any> {
    return this.lp.waitFor(pred, timeoutMs, what, true);
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
    this.lp.send(cmd);
  }

  signal(sig: NodeJS.Signals): void {
    this.lp.signal(sig);
  }

  /** Asks the child to exit (it runs `exit` handlers, so --cpu-prof is written), kills it after `graceMs`. */
  stop(graceMs = 10_000): Promise<void> {
    return this.lp.stop(() => {
      this.send({ cmd: 'exit' });
      this.lp.child.stdin!.end();
    }, graceMs);
  }

  killNow(): void {
    this.lp.killNow();
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
