/** Formatting shared by the report's sections (report.ts and its per-benchmark files). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, fmt, type MachineInfo, type Summary } from './common.js';

/** `median (min–max)`. */
export const range = (s: Summary | undefined, digits = 0, scale = 1) =>
  s && s.n > 0 ? `${fmt(s.median * scale, digits)} (${fmt(s.min * scale, digits)}–${fmt(s.max * scale, digits)})` : '–';
export const yes = (ok: boolean) => (ok ? '**met**' : '**missed**');

/** The hand-written analysis bench/analysis/<name>.md, if there is one. */
export function analysis(name: string): string {
  const file = join(BENCH_DIR, 'analysis', `${name}.md`);
  return existsSync(file) ? `\n${readFileSync(file, 'utf8').trim()}\n` : '';
}

export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node} (V8 ${m.v8}); `
    + `fd hard limit ${m.nofileHardLimit ?? '?'}; load average at start ${m.loadAverageAtStart?.map((x) => x.toFixed(2)).join(' ') ?? '?'}; run ${m.date}`;
}
