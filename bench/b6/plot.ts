/**
 * B6's trade-off plot as an SVG written by hand (no plotting dependency): one panel per profile,
 * x = false losses per peer-hour caused by a detector (0 at the left edge, then a log scale), y = T_D of hangs and
 * cable pulls together (a dot at the median, a whisker up to the max), one curve per detector
 * family through its settings.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from '../lib/common.js';
import type { B6DetectorRow, B6Result } from '../lib/results.js';
import { detectionSamples, detectorLosses } from './figures.js';

const COLORS: Record<B6DetectorRow['family'], string> = { fixed: '#1f77b4', adaptive: '#d62728', ws: '#2ca02c', 'socket.io': '#9467bd' };
const W = 360;
const H = 260;
const M = { left: 52, right: 12, top: 28, bottom: 40 };
const X_MIN = 0.01;
const X_MAX = 1000;
const Y_MAX = 9000;

/** `lane`: each family's own place in the zero column, so curves that all start at 0 stay apart. */
function x(rate: number, lane = 0): number {
  const plotW = W - M.left - M.right;
  if (rate <= 0) return M.left + 2 + lane * 3; // the zero column
  const f = (Math.log10(Math.max(rate, X_MIN)) - Math.log10(X_MIN)) / (Math.log10(X_MAX) - Math.log10(X_MIN));
  return M.left + 24 + f * (plotW - 24);
}

function y(ms: number): number {
  return M.top + (1 - Math.min(ms, Y_MAX) / Y_MAX) * (H - M.top - M.bottom);
}

function panel(title: string, rows: B6DetectorRow[], ox: number, oy: number): string {
  const out: string[] = [`<g transform="translate(${ox},${oy})">`];
  out.push(`<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#999"/>`);
  out.push(`<text x="${W / 2}" y="16" text-anchor="middle" font-weight="bold">${title}</text>`);
  for (let ms = 0; ms <= Y_MAX; ms += 1000) {
    out.push(`<line x1="${M.left - 3}" x2="${W - M.right}" y1="${y(ms)}" y2="${y(ms)}" stroke="#eee"/>`);
    out.push(`<text x="${M.left - 5}" y="${y(ms) + 4}" text-anchor="end" font-size="10">${ms / 1000}</text>`);
  }
  out.push(`<text x="${M.left + 6}" y="${H - M.bottom + 13}" text-anchor="middle" font-size="10">0</text>`);
  for (let e = -2; e <= 3; e++) {
    out.push(`<line x1="${x(10 ** e)}" x2="${x(10 ** e)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x(10 ** e)}" y="${H - M.bottom + 13}" text-anchor="middle" font-size="10">${10 ** e}</text>`);
  }
  out.push(`<text x="${W / 2 + 20}" y="${H - 8}" text-anchor="middle" font-size="10">false losses per peer-hour</text>`);
  out.push(`<text transform="translate(14,${H / 2}) rotate(-90)" text-anchor="middle" font-size="10">T_D, s (median, max)</text>`);
  (Object.keys(COLORS) as Array<B6DetectorRow['family']>).forEach((family, lane) => {
    const points = rows.filter((r) => r.family === family && r.linkHours > 0)
      .map((r) => {
        const s = detectionSamples(r);
        return { r, rate: detectorLosses(r) / r.linkHours, median: s.length ? s[Math.floor((s.length - 1) / 2)] : NaN, max: s.length ? s[s.length - 1] : NaN };
      })
      .filter((p) => Number.isFinite(p.median))
      .sort((a, b) => a.median - b.median);
    const color = COLORS[family];
    if (points.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points.map((p) => `${x(p.rate, lane).toFixed(1)},${y(p.median).toFixed(1)}`).join(' ')}"/>`);
    for (const p of points) {
      out.push(`<line x1="${x(p.rate, lane)}" x2="${x(p.rate, lane)}" y1="${y(p.median)}" y2="${y(p.max)}" stroke="${color}" stroke-width="1"/>`);
      out.push(`<circle cx="${x(p.rate, lane)}" cy="${y(p.median)}" r="3" fill="${color}"><title>${p.r.detector}: T_D median ${p.median.toFixed(0)} ms, max ${p.max.toFixed(0)} ms; ${detectorLosses(p.r)} false losses in ${p.r.linkHours.toFixed(1)} peer-hours</title></circle>`);
    }
  });
  out.push('</g>');
  return out.join('\n');
}

/** Writes bench/results/b6-tradeoff.svg; returns its path. */
export function writePlot(result: B6Result): string {
  const cols = 3;
  const rows = Math.ceil(result.profiles.length / cols);
  const legendH = 30;
  const width = cols * W;
  const height = rows * H + legendH;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`];
  result.profiles.forEach((p, i) => out.push(panel(p.profile, p.rows, (i % cols) * W, legendH + Math.floor(i / cols) * H)));
  let lx = 10;
  const legendStep = 95;
  for (const [family, color] of Object.entries(COLORS)) {
    out.push(`<circle cx="${lx}" cy="14" r="4" fill="${color}"/><text x="${lx + 8}" y="18">${family === 'fixed' ? 'ours fixed' : family === 'adaptive' ? 'ours adaptive' : family}</text>`);
    lx += legendStep;
  }
  out.push(`<text x="${lx - 10}" y="12" font-size="10">each point one setting (ours fixed 250–2000 ms, adaptive 4/7–8/14 at 1000 ms, ws and Socket.IO 500–2000 ms);</text>`);
  out.push(`<text x="${lx - 10}" y="24" font-size="10">dot = median T_D (hangs + cable pulls), whisker = max; x: false losses by a detector (not too-many-pings)</text>`);
  out.push('</svg>');
  const file = join(RESULTS_DIR, 'b6-tradeoff.svg');
  writeFileSync(file, `${out.join('\n')}\n`);
  // A PNG beside it where Chromium is installed (viewers that do not render SVG); skipped otherwise.
  spawnSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', `--screenshot=${file.replace(/svg$/, 'png')}`,
    `--window-size=${width},${height}`, `file://${file}`], { stdio: 'ignore', timeout: 60_000 });
  return file;
}
