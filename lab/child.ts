/**
 * The lab's one child-process helper, shared by the tests, the demo and the benchmarks: a
 * program in a child process (optionally inside a network namespace) that talks in lines.
 * Stdout lines are parsed into messages (what `waitFor` looks for) or kept as log text;
 * stderr is log text. Every child is tied to this process's life.
 *
 * Tied: a stopped child (SIGSTOP) cannot notice that its stdin closed, so watching stdin is not
 * enough. Where util-linux `setpriv` exists the child is started with `--pdeathsig KILL`
 * (prctl PR_SET_PDEATHSIG): the kernel SIGKILLs it when this process dies, and SIGKILL ends a
 * stopped process too. The setting survives `ip netns exec` and `bash -c 'exec …'` (both exec,
 * neither forks).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

let setprivOk: boolean | undefined;

/** Whether `setpriv --pdeathsig` is usable here. Cached. */
export function hasSetpriv(): boolean {
  setprivOk ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', 'true'], { stdio: 'ignore' }).status === 0;
  return setprivOk;
}

/** `spawn`, with the child tied to this process's life; `netns` runs it inside that namespace. */
export function spawnTied(cmd: string, args: readonly string[], options: SpawnOptions & { netns?: string } = {}): ChildProcess {
  const { netns, ...opts } = options;
  const argv = hasSetpriv() ? ['setpriv', '--pdeathsig', 'KILL', cmd, ...args] : [cmd, ...args];
  return netns ? spawn('ip', ['netns', 'exec', netns, ...argv], opts) : spawn(argv[0], argv.slice(1), opts);
}

export interface LineProcessOptions<M> {
  /** Names the child in error messages. */
  label: string;
  /** A stdout line as a message, or undefined to keep it as log text. */
  parse(line: string): M | undefined;
  /** Sees every message first; returning false keeps it from `waitFor` (e.g. to save memory). */
  onMessage?(message: M): boolean | void;
  /** Sees every log line (stdout lines that are not messages, and stderr). */
  onLog?(line: string, stream: 'stdout' | 'stderr'): void;
  /** Log lines kept for error messages (default 200). */
  keepLogs?: number;
  netns?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** Own process group (a terminal's Ctrl-C then reaches only the parent). */
  detached?: boolean;
  /** Default 'pipe': commands go to the child's stdin. */
  stdin?: 'pipe' | 'ignore';
  /** Wraps the argv before it is tied and put in the namespace (e.g. a shell that raises a limit, then execs). */
  wrap?(argv: string[]): string[];
}

const running = new Set<LineProcess<unknown>>();

export class LineProcess<M> {
  readonly child: ChildProcess;
  readonly messages: M[] = [];
  readonly logs: string[] = [];
  /** Resolves with the exit code, or null when a signal ended it. */
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];
  /** Exited and its output fully read: nothing more can arrive. */
  private closed = false;

  /** Runs `node [execArgv] --import tsx <script> [args]` (or `node <script>` for plain JavaScript when `tsx` is false). */
  constructor(script: string, args: readonly string[], readonly options: LineProcessOptions<M> & { execArgv?: string[]; tsx?: boolean }) {
    const node = [process.execPath, ...(options.execArgv ?? []), ...(options.tsx === false ? [] : ['--import', 'tsx']), script, ...args];
    const [cmd, ...rest] = options.wrap ? options.wrap(node) : node;
    this.child = spawnTied(cmd, rest, {
      netns: options.netns,
      cwd: options.cwd,
      detached: options.detached,
      stdio: [options.stdin ?? 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '', ...options.env },
    });
    running.add(this);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const message = options.parse(line);
      if (message === undefined) this.log(line, 'stdout');
      else if (options.onMessage?.(message) !== false) this.messages.push(message);
      this.wake();
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.log(line, 'stderr'));
    this.child.on('error', (error) => this.log(String(error), 'stderr'));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => {
      this.closed = true;
      running.delete(this);
      this.wake();
      resolve(code);
    }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * The first message (already received or to come) matching; with `take`, it is removed so a
   * later wait does not find it again. Fails after `timeoutMs`, or at once when the child is gone.
   */
  async waitFor(match: (m: M) => boolean, timeoutMs: number, what = 'message', take = false): Promise<M> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex(match);
      if (i >= 0) return take ? this.messages.splice(i, 1)[0] : this.messages[i];
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        throw new Error(`${this.options.label} (pid ${this.pid}): no ${what} within ${timeoutMs} ms (${this.alive ? 'alive' : 'it exited'})`
          + `\nlast messages: ${JSON.stringify(this.messages.slice(-10))}\n${this.logs.slice(-15).join('\n')}`);
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

  /** One JSON line on the child's stdin. */
  send(command: Record<string, unknown>): void {
    if (this.alive && this.child.stdin?.writable) this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.alive) this.child.kill(sig);
  }

  /** SIGKILL (after SIGCONT, so a stopped child goes too), then wait for it. */
  async kill(): Promise<void> {
    this.killNow();
    await this.exited;
  }

  killNow(): void {
    if (!this.alive) return;
    try {
      this.child.kill('SIGCONT');
      this.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Ask it to go (`ask`, e.g. a command or SIGTERM), SIGKILL after `graceMs`. */
  async stop(ask: () => void, graceMs: number): Promise<void> {
    if (!this.alive) return;
    ask();
    const timer = setTimeout(() => this.killNow(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private log(line: string, stream: 'stdout' | 'stderr'): void {
    this.logs.push(line);
    const keep = this.options.keepLogs ?? 200;
    if (this.logs.length > keep) this.logs.splice(0, this.logs.length - keep);
    this.options.onLog?.(line, stream);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Kills every child still running (resumed first, so stopped ones go too); waits for them. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => c.kill()));
}

/** The synchronous form, for exit and signal handlers. */
export function killAllChildrenNow(): void {
  for (const c of running) c.killNow();
}

export function runningChildren(): number {
  return running.size;
}

/** Parses a JSON line into an object, or undefined for anything else. */
export function jsonLine<M = Record<string, any>>(line: string): M | undefined {
  try {
    const value = JSON.parse(line);
    return value !== null && typeof value === 'object' ? value as M : undefined;
  } catch {
    return undefined;
  }
}
