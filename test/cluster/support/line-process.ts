import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonLine, LineProcess as LabProcess } from '../../../lab/child.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');

export interface Line { evt: string; t: number; [key: string]: any }

const running = new Set<LineProcess>();

/**
 * A test fixture (test/fixtures/<name>) in a child process tied to this one (lab/child.ts):
 * JSON lines out, JSON commands in. The cluster specs' view of it: every line kept, stderr kept.
 */
export class LineProcess {
  private readonly proc: LabProcess<Line>;
  readonly exited: Promise<number | null>;

  constructor(fixture: string, args: string[], env?: Record<string, string>) {
    this.proc = new LabProcess<Line>(join(FIXTURES, fixture), args, { label: fixture, parse: jsonLine<Line>, keepLogs: 500, env });
    running.add(this);
    this.exited = this.proc.exited.finally(() => running.delete(this));
  }

  get lines(): Line[] {
    return this.proc.messages;
  }

  /** Log lines (Nest's logger writes to stdout and stderr; both are kept). */
  get stderr(): string[] {
    return this.proc.logs;
  }

  get alive(): boolean {
    return this.proc.alive;
  }

  get pid(): number {
    return this.proc.pid;
  }

  waitFor(predicate: (line: Line) => boolean, timeoutMs = 15_000, what = 'line'): Promise<Line> {
    return this.proc.waitFor(predicate, timeoutMs, what);
  }

  select(predicate: (line: Line) => boolean): Line[] {
    return this.lines.filter(predicate);
  }

  command(cmd: Record<string, unknown>): void {
    this.proc.send(cmd);
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.signal(sig);
  }

  kill(): Promise<void> {
    return this.proc.kill();
  }
}

export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}
