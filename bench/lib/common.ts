/**
 * Shared helpers for the benchmarks: statistics, machine description, result files.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_DIR = join(BENCH_DIR, 'results');
export const REPO_DIR = join(BENCH_DIR, '..');
/** Raw .cpuprofile files (large) go here, outside the repository; their summaries go into results/*.json. */
export const PROFILES_DIR = join(tmpdir(), 'nest-heartbeat-bench-profiles');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: quantileSorted(v, 0.5), min: v[0], max: v[v.length - 1], n: v.length };
}

/** Linear-interpolated quantile of an ascending array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function median(values: number[]): number {
  return summarize(values).median;
}

export interface MachineInfo {
  date: string;
  cpuModel: string;
  cores: number;
  node: string;
  v8: string;
  kernel: string;
  memoryGiB: number;
  nofileHardLimit: number | null;
  loadAverageAtStart?: number[];
}

export function machineInfo(): MachineInfo {
  let nofile: number | null = null;
  try {
    nofile = Number(execFileSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()) || null;
  } catch {
    nofile = null;
  }
  let load: number[] | undefined;
  try {
    load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  } catch {
    load = undefined;
  }
  return {
    date: new Date().toISOString(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    v8: process.versions.v8,
    kernel: release(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    nofileHardLimit: nofile,
    loadAverageAtStart: load,
  };
}

export function writeResult(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export function readResult<T = any>(name: string): T | undefined {
  try {
    return JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export function log(...args: unknown[]): void {
  const t = new Date().toISOString().slice(11, 23);
  process.stderr.write(`[${t}] ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
}

/** Rounds for display. */
export function fmt(x: number | undefined | null, digits = 0): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `has('--flag')` on this process's argv. */
export function hasFlag(flag: string): boolean {
  return process.argv.includes(flag);
}

/** `--name=value` from argv. */
export function argValue(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** True when this module is the entry script (`node --import tsx bench/x.ts`). */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(metaUrl) === resolve(process.argv[1]);
}

/** The machine's CPU time counters (/proc/stat, first line, in clock ticks): steal is time the hypervisor gave to others. */
export interface SystemCpu {
  at: number;
  total: number;
  idle: number;
  steal: number;
  loadAverage: number[];
}

export function systemCpu(): SystemCpu {
  const loadAverage = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already counted in user)
  const total = fields.slice(0, 8).reduce((s, x) => s + x, 0);
  return { at: Date.now(), total, idle: fields[3] + fields[4], steal: fields[7] ?? 0, loadAverage };
}

/** Load averages at both ends, and the share of CPU time stolen and busy (all cores) in between, %. */
export function systemBetween(a: SystemCpu, b: SystemCpu): { loadAverageStart: number[]; loadAverageEnd: number[]; stealPct: number; busyPct: number } {
  const total = b.total - a.total;
  return {
    loadAverageStart: a.loadAverage,
    loadAverageEnd: b.loadAverage,
    stealPct: total > 0 ? ((b.steal - a.steal) / total) * 100 : NaN,
    busyPct: total > 0 ? ((total - (b.idle - a.idle) - (b.steal - a.steal)) / total) * 100 : NaN,
  };
}
