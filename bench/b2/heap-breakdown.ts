/**
 * B2's heap per peer, by what holds it: `node --import tsx bench/b2/heap-breakdown.ts [--peers=2000] [--impls=ours,ws] [--baseline=<checkout>]`.
 *
 * For each implementation: the B2 server (bench/b2/hb-server.ts, with --expose-gc), one lean
 * client process, a heap snapshot before and after `peers` idle peers connect, and the
 * difference per peer grouped by constructor (closures, contexts and arrays by kind). It says
 * where the per-peer bytes that B2 reports come from; the figures of record are B2's.
 * Written to bench/results/b2-heap-breakdown.json.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argValue, BENCH_DIR, log, machineInfo, REPO_DIR, sleep, writeResult } from '../lib/common.js';
import { Child } from '../lib/proc.js';

interface Row { name: string; bytesPerPeer: number; objectsPerPeer: number }

/** Self size and count of every node, grouped by constructor name (or `(kind)` for internals). */
function groups(file: string): Map<string, { count: number; size: number }> {
  const s = JSON.parse(readFileSync(file, 'utf8'));
  const fields: string[] = s.snapshot.meta.node_fields;
  const types: string[] = s.snapshot.meta.node_types[0];
  const [ti, ni, si, nf] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size'), fields.length];
  const out = new Map<string, { count: number; size: number }>();
  for (let i = 0; i < s.nodes.length; i += nf) {
    const type = types[s.nodes[i + ti]];
    const name = type === 'object' || type === 'native' ? s.strings[s.nodes[i + ni]] : type === 'closure' ? 'closure' : `(${type})`;
    const g = out.get(name) ?? { count: 0, size: 0 };
    g.count++;
    g.size += s.nodes[i + si];
    out.set(name, g);
  }
  return out;
}

async function breakdown(impl: string, peers: number, dir: string): Promise<{ impl: string; heapUsedPerPeer: number; rows: Row[] }> {
  const server = new Child(join(dir, 'bench', 'b2', 'hb-server.ts'), [impl === 'baseline' ? 'ours' : impl, '1000'], {
    execArgv: ['--expose-gc'], fdLimit: 65536, label: `heap-${impl}`, cwd: dir,
  });
  const files = [0, 1].map((k) => join(tmpdir(), `b2-heap-${impl}-${process.pid}-${k}.heapsnapshot`));
  try {
    const ready = await server.ready();
    const clients = new Child(join(BENCH_DIR, 'b2', 'lean-clients.ts'), [impl === 'ws' ? 'ws' : 'ours', String(ready.port), '1000'], { fdLimit: 65536, label: 'heap-clients' });
    try {
      await clients.ready();
      await sleep(500);
      const before = await server.request({ cmd: 'snapshot' });
      await server.request({ cmd: 'heapsnapshot', file: files[0] }, 120_000);
      await clients.request({ cmd: 'connect', count: peers, addresses: ['127.0.0.9'] }, 180_000);
      await sleep(3000);
      const after = await server.request({ cmd: 'snapshot' });
      await server.request({ cmd: 'heapsnapshot', file: files[1] }, 120_000);
      const [a, b] = files.map(groups);
      const rows: Row[] = [];
      for (const [name, g] of b) {
        const g0 = a.get(name) ?? { count: 0, size: 0 };
        rows.push({ name, bytesPerPeer: (g.size - g0.size) / peers, objectsPerPeer: (g.count - g0.count) / peers });
      }
      rows.sort((x, y) => y.bytesPerPeer - x.bytesPerPeer);
      return { impl, heapUsedPerPeer: (after.heapUsed - before.heapUsed) / peers, rows: rows.filter((r) => Math.abs(r.bytesPerPeer) >= 8) };
    } finally {
      await clients.request({ cmd: 'close' }).catch(() => undefined);
      clients.killNow();
    }
  } finally {
    server.killNow();
    for (const f of files) rmSync(f, { force: true });
  }
}

const peers = Number(argValue('peers') ?? 2000);
const impls = (argValue('impls') ?? 'ours,ws').split(',');
const baseline = argValue('baseline');
const results = [];
for (const impl of baseline ? ['baseline', ...impls] : impls) {
  const r = await breakdown(impl, peers, impl === 'baseline' ? baseline! : REPO_DIR);
  log(`${impl}: heapUsed ${r.heapUsedPerPeer.toFixed(0)} B/peer; snapshot by constructor (B/peer, objects/peer):`);
  for (const row of r.rows.slice(0, 14)) log(`  ${row.bytesPerPeer.toFixed(0).padStart(6)}  ${row.objectsPerPeer.toFixed(2).padStart(5)}  ${row.name}`);
  results.push(r);
}
writeResult('b2-heap-breakdown', { benchmark: 'b2-heap-breakdown', machine: machineInfo(), peers, results });
process.exit(0);
