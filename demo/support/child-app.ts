/**
 * Demo plumbing: one Nest app (server-app.ts or peer-app.ts) in a child process, run through
 * the lab's child-process helper (lab/child.ts, shared with the tests and benchmarks).
 *
 * The app prints JSON lines on stdout: its own reports (`{ "evt": ... }`) and, because it uses
 * Nest's JSON console logger, its log records (`{ "level": ... }`). The child gets its own
 * process group, so a Ctrl-C in the terminal reaches only the demo, which then cleans up; it
 * exits by itself when its stdin closes, and it is tied to the demo's life, so even a demo
 * killed with SIGKILL leaves no app behind, not even one frozen with SIGSTOP.
 */
import { jsonLine, killAllChildrenNow, LineProcess, runningChildren as running } from '../../lab/child.js';

export interface Report {
  evt: string;
  [key: string]: any;
}

export interface LogRecord {
  level: string;
  message: unknown;
  context?: string;
}

export class ChildApp {
  private readonly proc: LineProcess<Report>;
  readonly exited: Promise<void>;

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
    const logRecord = (line: string) => {
      const record = jsonLine<LogRecord>(line);
      if (record && typeof record.level === 'string') options.onLog?.(record);
    };
    this.proc = new LineProcess<Report>(script, [], {
      label: name,
      netns: options.netns,
      detached: true,
      env: { NO_COLOR: '1', ...env },
      keepLogs: 12,
      // Reports are messages; log records and plain text are log lines.
      parse: (line) => {
        const parsed = jsonLine<Report>(line);
        return parsed && typeof parsed.evt === 'string' ? parsed : undefined;
      },
      onMessage: (r) => {
        options.onReport?.(r);
        return options.keep?.(r) ?? true;
      },
      onLog: (line) => logRecord(line),
    });
    this.exited = this.proc.exited.then(() => undefined);
  }

  get child() {
    return this.proc.child;
  }

  get reports(): Report[] {
    return this.proc.messages;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.alive;
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.signal(sig);
  }

  /** The first report (already received or to come) matching `predicate`. */
  waitFor(predicate: (r: Report) => boolean, timeoutMs: number, what: string): Promise<Report> {
    return this.proc.waitFor(predicate, timeoutMs, what);
  }

  /** SIGTERM (the app shuts down gracefully), SIGKILL after `graceMs`. */
  stop(graceMs = 3000): Promise<void> {
    return this.proc.stop(() => {
      this.signal('SIGCONT');
      this.signal('SIGTERM');
    }, graceMs);
  }
}

/** Synchronous last resort (exit, signals): every child still running is resumed and killed. */
export function killAllChildren(): void {
  killAllChildrenNow();
}

export function runningChildren(): number {
  return running();
}
