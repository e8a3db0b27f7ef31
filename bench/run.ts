/**
 * Runs every benchmark (`npm run bench`), each in its own process, then writes bench/RESULTS.md.
 *
 *   node --import tsx bench/run.ts [--quick] [--only=b1,b2,b3,b4,b5,b6,b7,b8,b9]
 *
 * Extra flags are passed to every benchmark (e.g. --quick).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { argValue, BENCH_DIR, log, machineInfo, writeResult } from './lib/common.js';
import { renderResults } from './lib/report.js';

const BENCHMARKS: Record<string, string> = {
  b1: 'b1-throughput.ts',
  b2: 'b2-heartbeat-scale.ts',
  b3: 'b3-detection.ts',
  b4: 'b4-cluster.ts',
  'b4-scale': 'b4-scale.ts',
  b5: 'b5-reconnect-storm.ts',
  b6: 'b6-detection-qos.ts',
  b7: 'b7-hostile-load.ts',
  b8: 'b8-rolling-restart.ts',
  b9: 'b9-dashboard-load.ts',
};

const only = argValue('only')?.split(',') ?? Object.keys(BENCHMARKS);
const passThrough = process.argv.slice(2).filter((a) => !a.startsWith('--only='));
const machine = machineInfo();
const started = Date.now();
const parts: Record<string, number> = {};
let failed = false;
for (const name of only) {
  const script = BENCHMARKS[name];
  if (!script) throw new Error(`unknown benchmark ${name}`);
  log(`=== ${name}: ${script}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH_DIR, script), ...passThrough], {
    stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' },
  });
  parts[name] = Date.now() - t0;
  if (r.status !== 0) {
    failed = true;
    log(`${name} failed (exit ${r.status ?? r.signal})`);
  }
}
const durationMs = Date.now() - started;
if (only.length === Object.keys(BENCHMARKS).length) writeResult('run', { startedAt: machine.date, durationMs, machine, parts });
renderResults();
log(`all done in ${(durationMs / 1000).toFixed(0)} s; see bench/RESULTS.md`);
process.exit(failed ? 1 : 0);
