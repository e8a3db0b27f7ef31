/**
 * B2's ratios from quiet windows only (issue 26.3): load compresses the ratios on this shared
 * machine (a busy machine delays every process, so each read and tick finds more to do at once),
 * so a window counts only when the machine was not busier than this run's benchmark itself.
 *
 * The 1-minute load average is recorded but not used to choose: it lags by a minute, and the
 * benchmark's own clients load the machine differently per implementation (ws's clients cost
 * more). A window is *quiet* when the busy time of both cores over it (/proc/stat) is at most
 * QUIET_MARGIN points above the median of this N's windows, and steal below QUIET_STEAL.
 */
import { fmt, median } from './common.js';
import { yes } from './report-format.js';
import type { B2Result, B2Step } from './results.js';

const QUIET_MARGIN = 8;
const QUIET_STEAL = 2;

interface Window { impl: string; rep: number; step: B2Step }

function windows(r: B2Result, requested: number): Window[] {
  return r.runs.filter((x) => x.rep >= 0).flatMap((run) => run.steps.filter((s) => s.requested === requested && s.system).map((step) => ({ impl: run.impl, rep: run.rep, step })));
}

export function quietSection(r: B2Result, libraries: string[]): string {
  if (!r.runs.some((x) => x.steps.some((s) => s.system))) return '';
  const out = [
    `**Quiet windows only.** A window is quiet when both cores' busy time over it is at most ${QUIET_MARGIN} points above the median of that N's windows `
    + `(i.e. nothing ran but the benchmark) and steal is below ${QUIET_STEAL} %. Medians of the quiet windows; *paired* is the median over repetitions of ÷ baseline `
    + 'measured in the same repetition, both windows quiet. user / system: % of one core.', '',
    '| N | impl | quiet windows | CPU % | user / system % | ÷ ws | ÷ raw | ÷ baseline (paired) | CPU target (≤ 1.0 × ws, ≤ 1.1 × raw) |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const requested of r.config.steps) {
    const all = windows(r, requested);
    if (!all.length) continue;
    const limit = median(all.map((w) => w.step.system!.busyPct)) + QUIET_MARGIN;
    const quiet = (w: Window | undefined) => !!w && w.step.system!.busyPct <= limit && w.step.system!.stealPct < QUIET_STEAL;
    const of = (impl: string, key: 'cpuPct' | 'userPct' | 'systemPct') => median(all.filter((w) => w.impl === impl && quiet(w)).map((w) => w.step.window[key]));
    const ws = of('ws', 'cpuPct');
    const raw = of('raw', 'cpuPct');
    for (const impl of [...libraries, 'ws', 'raw']) {
      const mine = all.filter((w) => w.impl === impl);
      if (!mine.length) continue;
      const cpu = of(impl, 'cpuPct');
      const paired = median(mine.filter(quiet).map((w) => {
        const b = all.find((x) => x.impl === 'baseline' && x.rep === w.rep);
        return quiet(b) ? w.step.window.cpuPct / b!.step.window.cpuPct : NaN;
      }).filter(Number.isFinite));
      const isLib = libraries.includes(impl);
      out.push(`| ${fmt(Math.min(...mine.map((w) => w.step.peers)))} | ${impl} | ${mine.filter(quiet).length} of ${mine.length} | ${fmt(cpu, 1)} | `
        + `${fmt(of(impl, 'userPct'), 1)} / ${fmt(of(impl, 'systemPct'), 1)} | ${impl === 'ws' ? '' : fmt(cpu / ws, 2)} | ${impl === 'raw' ? '' : fmt(cpu / raw, 2)} | `
        + `${impl === 'baseline' || !Number.isFinite(paired) ? '' : `${fmt(cpu / of('baseline', 'cpuPct'), 2)} (${fmt(paired, 2)})`} | ${isLib ? yes(cpu / ws <= 1.0 && cpu / raw <= 1.1) : ''} |`);
    }
  }
  return `${out.join('\n')}\n`;
}
