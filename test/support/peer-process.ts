import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonLine, LineProcess } from '../../lab/child.js';
import type { PeerAppConfig } from '../fixtures/peer-app.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'peer-app.ts');

/** One JSON line printed by the peer app. */
export interface PeerLine {
  evt: string;
  t: number;
  [key: string]: any;
}

const running = new Set<PeerProcess>();

/**
 * A real Nest peer app in a child process (optionally inside a network namespace), tied to
 * this process: a peer left stopped (SIGSTOP) dies with the test runner all the same.
 */
export class PeerProcess {
  private readonly proc: LineProcess<PeerLine>;
  readonly exited: Promise<number | null>;

  constructor(config: PeerAppConfig, options: { netns?: string } = {}) {
    this.proc = new LineProcess<PeerLine>(FIXTURE, [JSON.stringify(config)], {
      label: `peer ${config.nodeId ?? ''}`.trim(), parse: jsonLine, netns: options.netns,
    });
    running.add(this);
    this.exited = this.proc.exited.then((code) => {
      running.delete(this);
      return code;
    });
  }

  get child() {
    return this.proc.child;
  }

  /** The log lines (stderr, non-JSON stdout) kept so far. */
  get logs(): string[] {
    return this.proc.logs;
  }

  /** Every JSON line printed so far. */
  get lines(): PeerLine[] {
    return this.proc.messages;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.proc.alive;
  }

  /** Resolves with the first line (already printed or to come) matching `predicate`. */
  waitFor(predicate: (line: PeerLine) => boolean, timeoutMs = 15_000, what = 'line'): Promise<PeerLine> {
    return this.proc.waitFor(predicate, timeoutMs, what);
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
    this.proc.send(cmd);
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.signal(sig);
  }

  /** Graceful shutdown through the app's own close (goodbye on every link). */
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.command({ cmd: 'close' });
    await this.exited;
  }

  kill(): Promise<void> {
    return this.proc.kill();
  }
}

/** Kills every peer still running (afterEach/afterAll), including stopped ones. */
export async function killAllPeers(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}
