/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per area
 * (GC, idle, our src/, Nest microservices, RxJS, node internals...), plus inclusive time of
 * selected functions.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  where: string;
  selfMs: number;
  selfPct: number;
}
export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Time not idle. */
  busyMs: number;
  byArea: Array<{ area: string; selfMs: number; pctOfBusy: number }>;
  top: Array<ProfileRow & { pctOfBusy: number }>;
  /** Inclusive time (self + callees) of functions whose name matches, as % of busy. */
  inclusive: Array<{ name: string; ms: number; pctOfBusy: number }>;
}

export function area(url: string, name: string): string {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)') return 'native/program';
  if (name === '(root)') return 'root';
  if (url.includes('/src/')) return 'nest-heartbeat src/';
  if (url.includes('@nestjs/microservices')) return '@nestjs/microservices';
  if (url.includes('@nestjs/core') || url.includes('@nestjs/common')) return '@nestjs/core+common';
  if (url.includes('/rxjs/')) return 'rxjs';
  if (url.includes('/ws/')) return 'ws';
  if (url.includes('/bench/')) return 'bench harness';
  if (url.startsWith('node:net') || url.includes('stream_base_commons') || url.startsWith('node:internal/stream')
    || url.startsWith('node:internal/streams')) return 'node net/streams';
  if (url.startsWith('node:') || url === '') return name === '' ? 'native/program' : 'node internals/builtins';
  if (url.includes('node_modules')) return 'other deps';
  return 'other';
}

export function summarizeProfile(file: string, topN = 25, inclusiveNames: string[] = []): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0; // delta to the next sample is the time spent in this one
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + Math.max(0, dt));
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const fnSelf = new Map<string, ProfileRow>();
  const areaSelf = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || '(anonymous)';
    const a = area(url, functionName);
    totalUs += us;
    if (a === 'idle') idleUs += us;
    areaSelf.set(a, (areaSelf.get(a) ?? 0) + us);
    const short = url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/');
    const key = `${name}@${short}:${lineNumber + 1}`;
    const row = fnSelf.get(key) ?? { name, where: short ? `${short}:${lineNumber + 1}` : '', selfMs: 0, selfPct: 0 };
    row.selfMs += us / 1000;
    fnSelf.set(key, row);
  }
  const busyUs = totalUs - idleUs;
  const pct = (us: number) => Math.round((us / busyUs) * 1000) / 10;

  // Inclusive: a sample counts once for a name if any frame on its stack matches.
  const inclusive = inclusiveNames.map((want) => {
    let us = 0;
    for (const [id, t] of selfUs) {
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const fn = byId.get(cur)!.callFrame.functionName;
        if (fn === want) {
          us += t;
          break;
        }
      }
    }
    return { name: want, ms: Math.round(us / 100) / 10, pctOfBusy: pct(us) };
  });

  const rows = [...fnSelf.values()].filter((r) => r.name !== '(idle)').sort((a, b) => b.selfMs - a.selfMs);
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    byArea: [...areaSelf.entries()].filter(([a]) => a !== 'idle').sort((a, b) => b[1] - a[1])
      .map(([a, us]) => ({ area: a, selfMs: Math.round(us / 1000), pctOfBusy: pct(us) })),
    top: rows.slice(0, topN).map((r) => ({ ...r, selfMs: Math.round(r.selfMs * 10) / 10, selfPct: 0, pctOfBusy: pct(r.selfMs * 1000) })),
    inclusive,
  };
}
