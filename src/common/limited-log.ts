import type { LoggerService } from '@nestjs/common';
import { droppedLogLines } from './heartbeat.messages.js';

type Level = 'log' | 'warn' | 'error';

/** Lines of one kind logged per window, at most; the rest are counted in one summary line. */
export const LOG_LINES_PER_WINDOW = 20;
export const LOG_WINDOW_MS = 10_000;

interface KindState {
  windowStart: number;
  written: number;
  dropped: number;
  summary: NodeJS.Timeout | undefined;
}

/**
 * Lines logged because of what peers do (refused handshakes, protocol errors, TLS failures,
 * unknown patterns, joins and losses), at most `perWindow` of each kind per window; what is
 * dropped is counted and said in one summary line when the window ends. A peer (or ten
 * thousand) cannot flood the log, and nothing is hidden without a trace.
 */
export class LimitedLog {
  private readonly kinds = new Map<string, KindState>();

  constructor(
    private readonly logger: Pick<LoggerService, Level>,
    private readonly perWindow = LOG_LINES_PER_WINDOW,
    private readonly windowMs = LOG_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, message: string): void {
    this.write('warn', kind, message);
  }

  log(kind: string, message: string): void {
    this.write('log', kind, message);
  }

  error(kind: string, message: string): void {
    this.write('error', kind, message);
  }

  private write(level: Level, kind: string, message: string): void {
    const now = this.now();
    let state = this.kinds.get(kind);
    if (!state || now - state.windowStart >= this.windowMs) {
      if (state) this.summarize(kind, state);
      state = { windowStart: now, written: 0, dropped: 0, summary: undefined };
      this.kinds.set(kind, state);
    }
    if (state.written < this.perWindow) {
      state.written++;
      this.logger[level](message);
      return;
    }
    state.dropped++;
    // Said when the window ends, even if no line of this kind comes after it.
    state.summary ??= setTimeout(() => {
      const current = this.kinds.get(kind);
      if (current === state) {
        this.summarize(kind, state);
        this.kinds.delete(kind);
      }
    }, state.windowStart + this.windowMs - now).unref();
  }

  private summarize(kind: string, state: KindState): void {
    clearTimeout(state.summary);
    state.summary = undefined;
    if (state.dropped > 0) this.logger.warn(droppedLogLines(state.dropped, kind, this.windowMs));
    state.dropped = 0;
  }
}
