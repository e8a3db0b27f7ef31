/**
 * Demo plumbing: terminal output. On a TTY, a live peer table stays at the bottom of the screen
 * and is redrawn in place (ANSI cursor movement) while event lines scroll above it. Otherwise
 * (a file, a pipe, CI) everything is appended as plain lines: events as they happen, the table
 * when the runner asks for it.
 */
import type { PeerInfo } from '../../src/index.js';

const ESC = '\x1b[';
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export type Paint = (text: string) => string;

export interface Palette {
  green: Paint; yellow: Paint; red: Paint; blue: Paint; dim: Paint; bold: Paint; cyan: Paint;
}

export function palette(enabled: boolean): Palette {
  const sgr = (open: number, close: number): Paint => (text) => (enabled ? `${ESC}${open}m${text}${ESC}${close}m` : text);
  return {
    green: sgr(32, 39), yellow: sgr(33, 39), red: sgr(31, 39), blue: sgr(34, 39), cyan: sgr(36, 39),
    dim: sgr(2, 22), bold: sgr(1, 22),
  };
}

const visibleLength = (text: string) => text.replace(ANSI, '').length;

/** Cuts a line to `width` visible characters, keeping escape sequences (so nothing wraps). */
function fit(line: string, width: number): string {
  if (visibleLength(line) <= width) return line;
  let out = '';
  let shown = 0;
  for (let i = 0; i < line.length;) {
    ANSI.lastIndex = i;
    const match = ANSI.exec(line);
    if (match && match.index === i) {
      out += match[0];
      i += match[0].length;
      continue;
    }
    if (shown >= width - 1) break;
    out += line[i++];
    shown++;
  }
  return `${out}…${ESC}0m`;
}

export const pad = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - visibleLength(text)));
export const padStart = (text: string, width: number) => ' '.repeat(Math.max(0, width - visibleLength(text))) + text;

export class Dashboard {
  readonly tty: boolean;
  readonly c: Palette;
  private drawn = 0;
  private pending: string[] = [];
  private table: () => string[] = () => [];
  private timer?: NodeJS.Timeout;
  private scheduled = false;
  private stopped = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    this.tty = out.isTTY === true;
    this.c = palette(this.tty && !process.env.NO_COLOR);
  }

  /** Starts the live table (TTY only; in plain mode call `printTable()`). */
  live(table: () => string[], everyMs = 150): void {
    this.table = table;
    if (!this.tty) return;
    this.out.write(`${ESC}?25l`); // hide the cursor while redrawing
    this.timer = setInterval(() => this.redraw(), everyMs);
  }

  /** An event line: scrolls above the table on a TTY, appended otherwise. */
  log(line: string): void {
    if (this.tty && !this.stopped) {
      this.pending.push(line);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.redraw());
      }
    } else {
      this.out.write(`${line}\n`);
    }
  }

  /** Plain mode: the table, appended (no-op on a TTY, where it is always on screen). */
  printTable(title: string): void {
    if (this.tty && !this.stopped) return;
    this.out.write(`${[this.c.dim(`── ${title} `.padEnd(60, '─')), ...this.table()].join('\n')}\n`);
  }

  /** Last redraw; the table stays on screen, later output goes below it. */
  stop(): void {
    if (this.stopped) return;
    if (this.tty) {
      clearInterval(this.timer);
      this.redraw();
      this.out.write(`${ESC}?25h`);
    }
    this.stopped = true;
  }

  /** Synchronous: for exit and signal handlers. */
  restoreTerminal(): void {
    if (this.tty) this.out.write(`${ESC}?25h${ESC}0m`);
  }

  private redraw(): void {
    this.scheduled = false;
    if (this.stopped) return;
    const width = Math.max(40, this.out.columns || 100);
    let frame = '';
    if (this.drawn > 0) frame += `\r${ESC}${this.drawn}A${ESC}J`; // back to the table's first line, clear below
    for (const line of this.pending.splice(0)) frame += `${fit(line, width)}\n`;
    const table = this.table().map((line) => fit(line, width));
    frame += table.map((line) => `${line}\n`).join('');
    this.drawn = table.length;
    this.out.write(frame);
  }
}

export interface TableInput {
  peers: PeerInfo[];
  /** Snapshot time (epoch ms), for last-seen ages. */
  at: number;
  roles: Map<string, string>;
  health?: string;
}

const kb = (bytes: number) => (bytes < 1000 ? `${bytes}` : `${(bytes / 1000).toFixed(1)}k`);
const rtt = (ms: number | undefined) => (ms === undefined ? '–' : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`);
const age = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);

/** The peer table as the server sees it: status, RTT, last seen and per-peer stats. */
export function peerTable(input: TableInput, c: Palette): string[] {
  const paint: Record<string, Paint> = { alive: c.green, suspect: c.yellow, lost: c.red, left: c.blue };
  // RTT: smoothed ping/pong round trip; SEEN: time since the last frame; PING/PONG: pings the
  // server sent to the peer and pongs it got back; SUSP: times suspect; RECON: rejoins;
  // CTRL TX/RX: bytes of heartbeat frames sent and received.
  const cols: Array<[string, number, 'l' | 'r']> = [
    ['PEER', 7, 'l'], ['ROLE', 8, 'l'], ['STATUS', 7, 'l'], ['RTT', 7, 'r'], ['SEEN', 6, 'r'],
    ['PING/PONG', 9, 'r'], ['SUSP', 4, 'r'], ['RECON', 5, 'r'], ['CTRL TX/RX', 11, 'r'],
  ];
  const row = (cells: string[]) => ` ${cells.map((cell, i) => (cols[i][2] === 'l' ? pad(cell, cols[i][1]) : padStart(cell, cols[i][1]))).join(' ')}`;
  const peers = [...input.peers].sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  const lines = [c.bold(row(cols.map(([name]) => name)))];
  for (const p of peers) {
    const s = p.stats;
    lines.push(row([
      p.id,
      input.roles.get(p.id) ?? '',
      (paint[p.status] ?? ((t: string) => t))(p.status),
      rtt(p.rttMs),
      age(Math.max(0, input.at - p.lastSeenAt)),
      `${s.pingsSent}/${s.pongsReceived}`,
      String(s.suspectCount),
      String(s.reconnects),
      `${kb(s.controlBytesSent)}/${kb(s.controlBytesReceived)}`,
    ]));
  }
  if (peers.length === 0) lines.push(c.dim(' (no peers yet)'));
  if (input.health) lines.push(` ${input.health}`);
  return lines;
}
