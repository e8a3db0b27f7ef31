/**
 * Renders bench/RESULTS.md from bench/results/*.json, inserting the hand-written analysis of
 * bench/analysis/<b1|b2|b3>.md after each benchmark's tables.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { B1Result, B1Summary, B2Result, B3Result, B4Result, B4ScaleResult, B5Result, B6Result, B7Result, B8Result, B9Result } from './results.js';
import { b6Section } from '../b6/report.js';
import { BENCH_DIR, fmt, readResult, type MachineInfo } from './common.js';
import type { ProfileSummary } from './cpuprofile.js';
import { analysis, machineLine, range, yes } from './report-format.js';
import { b7Section } from './report-b7.js';
import { quietSection } from './report-b2-quiet.js';

function profileTable(p: Record<string, ProfileSummary>, keys: string[], areas = 7, fns = 8, note = ' (includes start-up)'): string {
  const lines: string[] = [];
  for (const key of keys) {
    const s = p[key];
    if (!s) continue;
    lines.push(`**${key}** — busy ${fmt(s.busyMs)} ms of ${fmt(s.totalMs)} ms profiled${note}  `);
    lines.push(`by area: ${s.byArea.slice(0, areas).map((a) => `${a.area} ${a.pctOfBusy}%`).join(', ')}  `);
    lines.push(`top self time: ${s.top.slice(0, fns).map((t) => `${t.name} ${t.pctOfBusy}%`).join(', ')}  `);
    const incl = s.inclusive.filter((i) => i.pctOfBusy > 0.5);
    if (incl.length) lines.push(`inclusive: ${incl.map((i) => `${i.name} ${i.pctOfBusy}%`).join(', ')}`);
    lines.push('');
  }
  return lines.join('\n');
}

function b1Section(r: B1Result, beforeAfter?: B1Result): string {
  const out: string[] = [];
  out.push('## B1 — request/reply throughput', '');
  out.push(`Machine: ${machineLine(r.machine)}. Took ${fmt(r.durationMs / 1000)} s.`, '');
  out.push('**Method.** Server and client in separate processes (`bench/b1/echo-server.ts`, `bench/b1/echo-client.ts`). '
    + '*ours*: `HeartbeatModule.forRoot({ server })` + `createMicroservice({ inject: [HeartbeatServer], useFactory })` and a '
    + '`HeartbeatClient` from `clients: [{ name, port }]`; *stock*: `Transport.TCP` (`ServerTCP` + `JsonSocket`) and `new ClientTCP()`. '
    + `Same controller: \`@MessagePattern('echo')\` returns its ${r.config.payloadBytes}-byte JSON payload; \`@EventPattern('event')\` counts. `
    + `Closed loop with 1, 16, 128 requests in flight (\`firstValueFrom(client.send(...))\`), or events emitted as fast as the socket drains `
    + '(rate = events counted by the server / time until a final request returns). All four processes run throughout; '
    + `${r.config.rounds} rounds, each measuring every mode for each implementation back to back (order alternates per round; `
    + `1 in flight, which is wake-up bound and flips between two speed levels on this VM, is measured ${r.config.repeats?.c1 ?? 1}× per round), `
    + `${r.config.warmupMs} ms warm-up + ${r.config.durationMs} ms measured. Figures: median (min–max) over rounds; the ratio is the `
    + 'median of the per-pair ours/stock ratios (each pair measured back to back, so both sides saw the same noise). CPU µs/req: server process '
    + 'CPU time (user+sys) per request served, client CPU per request completed — less sensitive to noise than req/s.', '');
  const rowsFor = (res: B1Result, impls: string[]) => {
    const lines = ['| mode | impl | req/s | ratio vs stock | p50 ms | p99 ms | server CPU µs/req | client CPU µs/req |', '|---|---|---:|---:|---:|---:|---:|---:|'];
    for (const mode of res.config.modes) {
      for (const impl of impls) {
        const s = res.summary.find((x: B1Summary) => x.mode === mode && x.impl === impl);
        if (!s) continue;
        const lat = mode === 'events';
        lines.push(`| ${mode === 'events' ? 'events' : `${mode.slice(1)} in flight`} | ${impl} | ${range(s.rps)} | ${s.ratioToStock ? range(s.ratioToStock, 2) : ''} `
          + `| ${lat ? '–' : fmt(s.p50.median, 3)} | ${lat ? '–' : fmt(s.p99.median, 2)} | ${fmt(s.serverCpuUsPerReq.median, 1)} | ${fmt(s.clientCpuUsPerReq.median, 1)} |`);
      }
    }
    return lines.join('\n');
  };
  out.push(rowsFor(r, ['ours', 'stock']), '');
  const ratios = r.summary.filter((s) => s.impl === 'ours').map((s) => ({ mode: s.mode, ratio: s.ratioToStock!.median }));
  const rrRatios = ratios.filter((x) => x.mode !== 'events');
  const minRatio = Math.min(...rrRatios.map((x) => x.ratio));
  out.push(`**Targets.** ratio ≥ 1.0 at every concurrency: ${yes(minRatio >= 1)} (lowest median ratio ${fmt(minRatio, 2)}, `
    + `${rrRatios.map((x) => `${x.mode} ${fmt(x.ratio, 2)}`).join(', ')}; events ${fmt(ratios.find((x) => x.mode === 'events')?.ratio, 2)}). `
    + `Goal ≥ 1.3: ${minRatio >= 1.3 ? '**met** at every concurrency' : `reached at ${rrRatios.filter((x) => x.ratio >= 1.3).map((x) => `${x.mode.slice(1)} in flight`).join(', ') || 'no concurrency'}`
      + `${rrRatios.some((x) => x.ratio < 1.3) ? `, **missed** at ${rrRatios.filter((x) => x.ratio < 1.3).map((x) => `${x.mode.slice(1)} in flight (${fmt(x.ratio, 2)})`).join(', ')}` : ''}`}.`, '');
  if (beforeAfter) {
    out.push('### Before / after (issue 24: the library at 7052938 against this tree)', '');
    out.push(`Same method, one run with three implementations alternated: *baseline* = the library at 7052938, before the limits, sessions-era `
      + `reshaping and architecture pass (${beforeAfter.config.rounds} rounds, ${beforeAfter.config.durationMs} ms each; ${machineLine(beforeAfter.machine)}). Reproduce with `
      + '`git worktree add /tmp/b1-before 7052938`, `ln -s $PWD/node_modules /tmp/b1-before/` and '
      + '`node --import tsx bench/b1-throughput.ts --baseline=/tmp/b1-before --out=b1-before-after --no-profile`.', '');
    out.push(rowsFor(beforeAfter, ['baseline', 'ours', 'stock']), '');
    const ours = (mode: string, impl: string) => beforeAfter.summary.find((x) => x.mode === mode && x.impl === impl);
    const vsBase = beforeAfter.config.modes.map((mode) => {
      const a = ours(mode, 'ours');
      const b = ours(mode, 'baseline');
      if (!a || !b) return '';
      return `${mode === 'events' ? 'events' : `${mode.slice(1)} in flight`} ${fmt(a.rps.median / b.rps.median, 2)} (server CPU µs/req ${fmt(b.serverCpuUsPerReq.median, 1)} → ${fmt(a.serverCpuUsPerReq.median, 1)})`;
    }).filter(Boolean);
    out.push(`**ours ÷ baseline** (ratio of median req/s): ${vsBase.join('; ')}.`, '');
  }
  if (r.profiles) {
    out.push('### Profiles (`--cpu-prof`, 128 in flight)', '');
    out.push(profileTable(r.profiles, ['stock-server', 'stock-client', 'ours-server', 'ours-client']));
  }
  out.push(analysis('b1'));
  return out.join('\n');
}

function b2Section(r: B2Result): string {
  const out: string[] = [];
  out.push('## B2 — heartbeat cost at scale', '');
  out.push(`Machine: ${machineLine(r.machine)}. Took ${fmt(r.durationMs / 1000)} s.`, '');
  const maxPeers = Math.min(...r.runs.map((x) => x.maxPeers));
  out.push(`**Method.** One server process per implementation and repetition (${r.config.reps} repetitions; order ours, ws, raw, then reversed), `
    + 'run with `--expose-gc` and its fd limit raised as far as allowed. Idle peers are added in steps '
    + `(${r.config.steps.map((x) => fmt(x)).join(', ')}) from two client processes (half each), from distinct loopback source addresses `
    + `(127.x.y.z). *ours*: \`HeartbeatServer\` microservice at intervalMs ${r.config.intervalMs}; its peers are a lean client speaking the protocol `
    + '(hello; pong to every ping echoing seq and t; ping when nothing was sent for an interval — `bench/b2/lean-clients.ts`). '
    + `*ws*: \`ws\` WebSocketServer with the README heartbeat (one \`setInterval\` every ${r.config.intervalMs} ms pings every client and terminates one that `
    + 'did not pong since the previous round), `ws` clients answering pings automatically. *raw*: the floor for this protocol in Node — a bare '
    + '`net` server (no Nest, no RxJS) answering hello/ping and pinging idle sockets from one shared timer, same lean clients as ours. '
    + `At each step, after all peers are connected and ${r.config.settleMs} ms of settling, the server measures itself over ${r.config.windowMs / 1000} s: `
    + 'CPU % of one core from `process.cpuUsage()` deltas (user + system; also per second), then memory after two `gc()` calls; heap and RSS per '
    + 'peer are (value at N − value before any peer) / N, which includes the fixed cost of the first connections (JIT code, the detector) spread '
    + 'over N; *marginal* heap per peer is (heap at this step − heap at the previous step) / peers added. Timers: `Timeout` + `Immediate` entries of `process.getActiveResourcesInfo()` '
    + '(which lists ref\'ed timers only). False losses: `lost` presence events (ours) or terminations (ws, raw) before teardown — every peer '
    + 'is healthy throughout. Only the server process is measured; on loopback its system time also includes the kernel\'s delivery of '
    + 'each write to the peer socket.', '');
  if (maxPeers < Math.max(...r.config.steps)) {
    out.push(`**N = 20,000 could not be reached exactly:** the fd hard limit of this machine is ${r.runs[0]?.fdLimit} and the process lacks `
      + `CAP_SYS_RESOURCE to raise it, so the largest step is ${fmt(maxPeers)} peers (the server needs a few fds of its own).`, '');
  }
  out.push('| N (peers) | impl | CPU % of one core | user / system % | per-second CPU % (min–max) | heap / peer (KiB) | marginal heap / peer (KiB) | RSS / peer (KiB) | timers (before → at N) | false lost | suspect |');
  out.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const variants = Object.keys(r.config.variants ?? {});
  const libraries = ['baseline', 'ours', ...variants];
  for (const requested of r.config.steps) {
    for (const impl of [...libraries, 'ws', 'raw']) {
      const s = r.summary.find((x) => x.impl === impl && x.requested === requested);
      if (!s) continue;
      out.push(`| ${fmt(s.peers)} | ${impl} | ${range(s.cpuPct, 1)} | ${fmt(s.userPct?.median, 1)} / ${fmt(s.systemPct?.median, 1)} | ${fmt(s.perSecondPct.min, 1)}–${fmt(s.perSecondPct.max, 1)} | `
        + `${range(s.heapPerPeerBytes, 2, 1 / 1024)} | ${s.marginalHeapPerPeerBytes ? range(s.marginalHeapPerPeerBytes, 2, 1 / 1024) : '–'} | ${range(s.rssPerPeerBytes, 2, 1 / 1024)} | ${s.baselineTimers} → ${fmt(s.timers.max)} | ${s.falseLost} | ${s.suspect} |`);
    }
  }
  out.push('');
  if (r.summary.some((x) => x.impl === 'baseline')) {
    out.push(`*baseline*: the library before this change (\`${r.config.baseline ?? '?'}\`, a checkout of the previous main with the same bench server), `
      + 'alternated with the others in this run. Ratios are of medians in this run; targets: CPU ≤ 1.0 × ws and ≤ 1.1 × raw, heap per peer ≤ ws.', '');
  }
  if (variants.length) {
    out.push(`Variants, each a checkout of *baseline* with one change, run from its own tree and alternated with the others: ${variants.map((v) => `*${v}* (\`${r.config.variants![v]}\`)`).join(', ')}; see the analysis below for what each changes.`, '');
  }
  out.push('| N (peers) | impl | CPU ÷ ws | CPU ÷ raw | heap per peer ÷ ws | CPU target | heap target |', '|---:|---|---:|---:|---:|---|---|');
  for (const requested of r.config.steps) {
    const ws = r.summary.find((x) => x.impl === 'ws' && x.requested === requested);
    const raw = r.summary.find((x) => x.impl === 'raw' && x.requested === requested);
    for (const impl of libraries) {
      const s = r.summary.find((x) => x.impl === impl && x.requested === requested);
      if (!s || !ws || !raw) continue;
      const cw = s.cpuPct.median / ws.cpuPct.median;
      const cr = s.cpuPct.median / raw.cpuPct.median;
      const hw = s.heapPerPeerBytes.median / ws.heapPerPeerBytes.median;
      out.push(`| ${fmt(s.peers)} | ${impl} | ${fmt(cw, 2)} | ${fmt(cr, 2)} | ${fmt(hw, 2)} | ${yes(cw <= 1.0 && cr <= 1.1)} | ${yes(hw <= 1)} |`);
    }
  }
  out.push('');
  const quiet = quietSection(r, libraries);
  if (quiet) out.push(quiet);
  const top = r.summary.filter((s) => s.impl === 'ours' && s.requested === Math.max(...r.config.steps))[0];
  if (top) {
    const timersFlat = r.summary.filter((s) => s.impl === 'ours').every((s) => s.timers.max <= s.baselineTimers + 1);
    out.push(`**Targets at ${fmt(top.peers)} peers (ours).** CPU ≤ 15 % of one core: ${yes(top.cpuPct.median <= 15)} (median ${fmt(top.cpuPct.median, 1)} %`
      + `${top.cpuPct.median > 15 ? `, ${fmt(top.cpuPct.median / 15, 1)}× the target` : ''}). Heap ≤ 4 KB per peer, read as 4 KiB = 4,096 B: ${yes(top.heapPerPeerBytes.median <= 4096)} `
      + `(median ${fmt(top.heapPerPeerBytes.median)} B${top.heapPerPeerBytes.median > 4096 ? `, +${fmt((top.heapPerPeerBytes.median / 4096 - 1) * 100)} %` : ''}`
      + `${top.heapPerPeerBytes.median > 4000 ? '; above 4,000 B if KB means 1,000 B' : ''}`
      + `${top.marginalHeapPerPeerBytes?.n ? `; marginal ${fmt(top.marginalHeapPerPeerBytes.median)} B` : ''}). `
      + `Zero false losses: ${yes(r.summary.filter((s) => s.impl === 'ours').every((s) => s.falseLost === 0))}. `
      + `Timers not growing with N: ${yes(timersFlat)}.`, '');
  }
  if (r.runs.some((x) => x.steps.some((st) => st.system))) {
    out.push('Every window with the machine around it (load average 1 min at its start → end; steal and busy time of both cores over the window, /proc/stat; '
      + 'the benchmark\'s own server and two client processes account for roughly one core of load):', '');
    out.push('| rep | impl | N | CPU % | load 1 min | steal % | machine busy % |', '|---:|---|---:|---:|---|---:|---:|');
    for (const run of r.runs.filter((x) => x.rep >= 0)) {
      for (const st of run.steps) {
        if (!st.system) continue;
        out.push(`| ${run.rep + 1} | ${run.impl} | ${fmt(st.peers)} | ${fmt(st.window.cpuPct, 1)} | ${fmt(st.system.loadAverageStart[0], 2)} → ${fmt(st.system.loadAverageEnd[0], 2)} | `
          + `${fmt(st.system.stealPct, 1)} | ${fmt(st.system.busyPct)} |`);
      }
    }
    out.push('');
  }
  const profiled = r.runs.filter((x) => x.profile);
  if (profiled.length) {
    out.push(`### Profiles of the ${r.config.windowMs / 1000} s window at the largest N (V8 sampling profiler via \`node:inspector\`)`, '');
    const p: Record<string, ProfileSummary> = {};
    for (const run of profiled) p[`${run.impl}-server`] = run.profile!;
    out.push(profileTable(p, ['ours-server', 'ws-server'], 8, 10, ''));
  }
  out.push(analysis('b2'));
  return out.join('\n');
}

function b3Section(r: B3Result): string {
  const out: string[] = [];
  out.push('## B3 — detection latency', '');
  out.push(`Machine: ${machineLine(r.machine)}. Took ${fmt(r.durationMs / 1000)} s.`, '');
  out.push('**Method.** The observer is a `HeartbeatServer` microservice inside the benchmark process; each peer is a real Nest app '
    + '(`test/fixtures/peer-app.ts` via `test/support/peer-process.ts`) whose `HeartbeatClient` connects to it. Per setting, '
    + `${r.config.trials} peers per fault type are faulted in parallel, each at a random offset within max(interval, 2 s): faults land at every phase of the `
    + 'heartbeat cycle, and the teardown of 20 Node processes does not all hit the 2 cores in the same instant. Latency = instant of the presence event on the observer (`PresenceService.events$`) − instant just before the fault '
    + '(`kill(2)` / `ip link set down`), both `performance.now()` of the same process. SIGSTOP: hung process (then SIGCONT; the same peers rejoin '
    + 'and are then stopped gracefully); graceful: SIGTERM (the app closes, saying goodbye); SIGKILL: crash, the kernel closes the socket; '
    + 'cable: each peer in its own network namespace behind a veth pair, the namespace end set down (no FIN, no RST; `lab/netns.ts`). '
    + 'Bounds: SIGSTOP/cable `missedBeats × interval + interval`, SIGKILL ≤ 200 ms, graceful ≤ 100 ms. '
    + '"met" = every trial detected, with the expected event, within the bound.', '');
  out.push('| setting | fault | event | detected | median ms | p90 ms | max ms | min ms | bound ms | met | reasons | observer loop delay p99 / max ms |');
  out.push('|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---:|');
  for (const row of r.rows) {
    if (row.skipped) {
      out.push(`| ${row.setting} (${row.intervalMs} ms × ${row.missedBeats}) | ${row.fault} | ${row.expected} | skipped | | | | | ${row.boundMs} | – | ${row.skipped} | |`);
      continue;
    }
    out.push(`| ${row.setting} (${row.intervalMs} ms × ${row.missedBeats}) | ${row.fault} | ${row.expected} | ${row.detected}/${row.trials} | ${fmt(row.latency.median, 1)} | `
      + `${fmt(row.p90, 1)} | ${fmt(row.latency.max, 1)} | ${fmt(row.latency.min, 1)} | ${row.boundMs} | ${row.met ? 'yes' : '**no**'} | `
      + `${Object.entries(row.reasons).map(([k, v]) => `${k} ×${v}`).join(', ')} | ${fmt(row.observerLoopDelay?.p99, 1)} / ${fmt(row.observerLoopDelay?.max, 1)} |`);
  }
  out.push('');
  const all = r.rows.filter((x) => !x.skipped);
  out.push(`**Targets.** Every bound: ${yes(all.every((x) => x.met))}${all.some((x) => !x.met) ? ` (missed: ${all.filter((x) => !x.met).map((x) => `${x.setting} ${x.fault}`).join(', ')})` : ''}.`
    + (r.notes.length ? ` Notes: ${r.notes.join('; ')}.` : ''), '');
  out.push(analysis('b3'));
  return out.join('\n');
}

function b4Section(r: B4Result): string {
  const out: string[] = [];
  const t = r.targets;
  out.push('## B4 — cluster presence on Redis', '');
  out.push(`Machine: ${machineLine(r.machine)}. Took ${fmt(r.durationMs / 1000)} s.`, '');
  out.push(`**Method.** A real \`redis-server\` 7.0 (no persistence) on loopback and ${r.config.replicas} replica processes (\`bench/b4/replica.ts\`) `
    + `running the real \`ClusterPresenceService\` with the default lease (${r.config.leaseTtlMs} ms, renewed every ${r.config.renewIntervalMs} ms). `
    + '**Peers are simulated**: each replica\'s local table is fed directly through the seam the cluster layer reads (`events$` + `peers()`, '
    + 'the events a `PresenceService` emits), because 30,000 real links would measure the link layer (B2), not the cluster layer. '
    + 'Memory: `used_memory` after the tables are in minus with the replicas connected but empty (connection buffers are a fixed cost), '
    + 'per peer; the split by key is `MEMORY USAGE`. Load: `INFO commandstats` over a quiet window after `CONFIG RESETSTAT`; '
    + '"client" counts what replicas send (EVALSHA, XREAD, XRANGE), "all" adds the commands our Lua scripts run inside Redis (TIME, ZMSCORE, ZRANGE, ZADD per renewal). '
    + `Propagation: ${r.config.probes} probe peers join on replica 0, one every 20 ms; latency until replicas 1 and 2 emit the cluster \`joined\` `
    + '(epoch ms with sub-ms precision from `performance.timeOrigin + performance.now()`, same machine). '
    + `Churn: every replica loses or regains a peer ${r.config.churnPerSecond} times a second (lost peers are confirmed after the hop grace). `
    + 'Reap: a replica holding 5,000 peers is SIGKILLed; time until another replica has reported all of them `lost` (`replica-lost`).', '');
  out.push('| peers/replica | converge ms | B/peer (hashes, stream) | idle cmds/s/replica client · all | idle p50 / p99 ms | churn changes/s | churn cmds/s client · all | churn p50 / p99 ms | B/peer after churn |');
  out.push('|---:|---:|---|---|---:|---:|---|---:|---:|');
  for (const row of r.sizes) {
    const total = r.config.replicas * row.peersPerReplica;
    out.push(`| ${fmt(row.peersPerReplica)} | ${fmt(row.convergeMs)} | ${fmt(row.bytesPerPeer)} (${fmt(row.keys.hashesBytes / total)}, ${fmt(row.keys.streamBytes / total)} in ${row.keys.streamEntries} entries) | `
      + `${fmt(row.idle.perReplicaClient, 2)} · ${fmt(row.idle.perReplicaTotal, 2)} | ${fmt(row.latencyIdle.p50, 1)} / ${fmt(row.latencyIdle.p99, 1)} | `
      + `${fmt(row.churn.changesPerSecond)} | ${fmt(row.churn.clientPerSecond)} · ${fmt(row.churn.totalPerSecond)} | ${fmt(row.latencyChurn.p50, 1)} / ${fmt(row.latencyChurn.p99, 1)} | ${fmt(row.bytesPerPeerAfterChurn)} |`);
  }
  out.push('');
  out.push(`Reap after SIGKILL of a replica with ${fmt(r.reap.peers)} peers: ${fmt(r.reap.events)} \`lost\` events (exactly one per peer: ${yes(r.reap.events === r.reap.peers)}), `
    + `first ${fmt(r.reap.firstMs)} ms, last ${fmt(r.reap.lastMs)} ms after the kill (bound leaseTtlMs + renewIntervalMs = ${fmt(r.reap.boundMs)} ms: ${yes(r.reap.lastMs <= r.reap.boundMs)}).`, '');
  const sizes = r.sizes;
  const idleFlat = sizes.length < 2 || Math.abs(sizes[sizes.length - 1].idle.perReplicaClient - sizes[0].idle.perReplicaClient) <= 0.2;
  out.push(`**Targets.** Propagation p50 ≤ ${t.p50Ms} ms: ${yes(sizes.every((x) => x.latencyIdle.p50 <= t.p50Ms && x.latencyChurn.p50 <= t.p50Ms))}; `
    + `p99 ≤ ${t.p99Ms} ms: ${yes(sizes.every((x) => x.latencyIdle.p99 <= t.p99Ms && x.latencyChurn.p99 <= t.p99Ms))}; `
    + `idle commands independent of peer count: ${yes(idleFlat)}, ≤ ${t.idleOpsPerReplica}/s per replica as sent by clients: ${yes(sizes.every((x) => x.idle.perReplicaClient <= t.idleOpsPerReplica))}, `
    + `counting the commands inside our scripts too: ${yes(sizes.every((x) => x.idle.perReplicaTotal <= t.idleOpsPerReplica))}; `
    + `≤ ${t.bytesPerPeer} B of Redis memory per peer: ${yes(sizes.every((x) => x.bytesPerPeer <= t.bytesPerPeer))} (after churn: ${yes(sizes.every((x) => x.bytesPerPeerAfterChurn <= t.bytesPerPeer))}).`, '');
  out.push(analysis('b4'));
  return out.join('\n');
}

function b4ScaleSection(r: B4ScaleResult): string {
  const out: string[] = [];
  const c = r.config;
  const total = c.replicas * c.peersPerReplica;
  const pct = (x: number) => `${fmt(x * 100, 1)} %`;
  const spread = (x: { median: number; min: number; max: number }, f: (v: number) => string) => `${f(x.median)} (${f(x.min)}–${f(x.max)})`;
  out.push('## B4 at scale — 100,000 cluster peers, 10 replicas', '');
  out.push(`Machine: ${machineLine(r.machine)}; load average at the end ${r.loadAverageAtEnd.map((x) => x.toFixed(2)).join(' ')}. Took ${fmt(r.durationMs / 1000)} s.`, '');
  out.push(`**Method.** \`bench/b4-scale.ts\`: a real \`redis-server\` 7.0 and ${c.replicas} replica processes (\`bench/b4/replica.ts\`, the real \`ClusterPresenceService\`, `
    + `lease ${fmt(c.leaseTtlMs)} ms renewed every ${fmt(c.renewIntervalMs)} ms), each holding ${fmt(c.peersPerReplica)} simulated local peers (as in B4) and merging everyone's: `
    + `every view holds all ${fmt(total)}. Redis CPU is \`INFO cpu\` (user + sys) over the window; replica CPU is \`process.cpuUsage()\`; replica heap is \`heapUsed\` after a full GC, `
    + `after minus before the peers, divided by the ${fmt(total)} peers of the view. Propagation: probe peers join on replica 0, latency until each of the other ${c.replicas - 1} emits \`joined\`. `
    + `Churn: every replica loses or regains ${c.churnPerSecondPerReplica} peers a second. All ${c.replicas + 2} processes share the machine's ${r.machine.cores} cores.`, '');
  out.push('| figure | value |', '|---|---|');
  out.push(`| convergence (all views hold all peers) | ${fmt(r.convergeMs)} ms |`);
  out.push(`| Redis memory per peer | ${fmt(r.redisBytesPerPeer)} B (hashes ${fmt(r.keys.hashesBytes / total)} B, stream ${fmt(r.keys.streamBytes / total)} B in ${fmt(r.keys.streamEntries)} entries); after churn ${fmt(r.redisBytesPerPeerAfterChurn)} B |`);
  out.push(`| replica heap per peer of the merged view | ${spread(r.replicaHeapBytesPerPeer, (v) => `${fmt(v)} B`)} |`);
  out.push(`| a replica joins the full cluster | ready ${fmt(r.join.readyMs)} ms and full view ${fmt(r.join.fullViewMs)} ms after its process started; its snapshot held Redis ${fmt(r.join.snapshotMs, 1)} ms (SLOWLOG); longest PING meanwhile ${fmt(r.join.longestPingMs, 1)} ms |`);
  out.push(`| idle: commands | ${fmt(r.idle.perReplicaClient, 2)}/s per replica sent, ${fmt(r.idle.totalPerSecond, 1)}/s in Redis in all (scripts' inner commands included) |`);
  out.push(`| idle: CPU | Redis ${pct(r.idle.redisCpuFraction)} of a core; each replica ${spread(r.idle.replicaCpuFraction, pct)} |`);
  out.push(`| idle: propagation p50 / p99 / max | ${fmt(r.latencyIdle.p50, 1)} / ${fmt(r.latencyIdle.p99, 1)} / ${fmt(r.latencyIdle.max, 1)} ms (n ${r.latencyIdle.n}) |`);
  out.push(`| churn | ${fmt(r.churn.changesPerSecond)} changes/s; ${fmt(r.churn.clientPerSecond)} commands/s sent, ${fmt(r.churn.totalPerSecond)} in Redis |`);
  out.push(`| churn: Redis CPU | ${pct(r.churn.redisCpuFraction)} of a core = ${fmt(r.churn.redisCpuUsPerChange, 1)} µs per change |`);
  out.push(`| churn: replica CPU | each ${spread(r.churn.replicaCpuFraction, pct)}; all replicas together ${fmt(r.churn.replicaCpuUsPerChangeAll)} µs per change |`);
  out.push(`| churn: Redis network | in ${fmt(r.churn.netBytesPerSecond.in / 1024)} KiB/s, out ${fmt(r.churn.netBytesPerSecond.out / 1024)} KiB/s = ${fmt(r.churn.netBytesPerChange.in)} B in, ${fmt(r.churn.netBytesPerChange.out)} B out per change |`);
  out.push(`| churn: propagation p50 / p99 / max | ${fmt(r.latencyChurn.p50, 1)} / ${fmt(r.latencyChurn.p99, 1)} / ${fmt(r.latencyChurn.max, 1)} ms (n ${r.latencyChurn.n}) |`);
  const exact = r.reap.events.every((n) => n === r.reap.peers);
  out.push(`| SIGKILL of a replica with ${fmt(r.reap.peers)} peers → every one \`lost\` (\`replica-lost\`) on each of ${r.reap.observers} others | first ${fmt(r.reap.firstMs)} ms, last ${fmt(r.reap.lastMs)} ms (bound ${fmt(r.reap.boundMs)} ms: ${yes(r.reap.lastMs <= r.reap.boundMs)}); exactly once per peer per observer: ${yes(exact)} |`);
  out.push('');
  out.push(analysis('b4-scale'));
  return out.join('\n');
}

/** One row per (N, implementation): the storm's figures. */
export function b5Table(r: B5Result): string {
  const out: string[] = [];
  // Counted since the limits (maxPendingHandshakes); older result files have no such column.
  const withRefusals = r.summary.some((s) => s.refusedAtAccept?.n);
  out.push('| N (peers) | impl | all back after listening, ms | after the restart, ms | peak CPU % (100 ms) | mean CPU % | loop delay p99 / max ms | '
    + 'back per s: peak / mean | lost after joining / back again | reported twice | missing | SYNs dropped | control: suspect / lost, longest silence ms |'
    + `${withRefusals ? ' refused at accept |' : ''}`);
  out.push(`|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${withRefusals ? '---:|' : ''}`);
  for (const requested of r.config.steps) {
    for (const impl of ['baseline', 'ours', 'stock'] as const) {
      const s = r.summary.find((x) => x.impl === impl && x.requested === requested);
      if (!s) continue;
      const incomplete = s.complete < s.n ? ` (${s.n - s.complete} of ${s.n} runs incomplete)` : '';
      out.push(`| ${fmt(s.peers)} | ${impl} | ${range(s.allBackFromListeningMs)}${incomplete} | ${range(s.allBackFromRestartMs)} | ${range(s.cpuPeak100msPct)} | ${range(s.cpuMeanPct)} | `
        + `${fmt(s.eldP99Ms.median, 0)} / ${fmt(s.eldMaxMs.median, 0)} (max ${fmt(s.eldMaxMs.max, 0)}) | ${fmt(s.handshakesPerSecondPeak.median)} / ${fmt(s.handshakesPerSecondMean.median)} | `
        + `${s.lostAfterJoining} / ${s.repeats} | ${s.duplicates} | ${s.missing} | ${fmt(s.listenDrops.median)} | ${impl !== 'stock' ? `${s.controlSuspect} / ${s.controlLost}, ${fmt(s.controlMaxSilenceMs.max)}` : '–'} |`
        + `${withRefusals ? ` ${s.refusedAtAccept?.n ? range(s.refusedAtAccept) : '–'} |` : ''}`);
    }
  }
  return out.join('\n');
}

function b5Section(r: B5Result): string {
  const out: string[] = [];
  out.push('## B5 — reconnect storm', '');
  out.push(`Machine: ${machineLine(r.machine)}. Took ${fmt(r.durationMs / 1000)} s.`, '');
  out.push('**Method.** One server process per (implementation, N, repetition) (`bench/b5/storm-server.ts`, fd limit raised as in B2), '
    + `${r.config.reps} repetition(s), implementations alternated. N peers connect from two client processes (\`bench/b5/storm-clients.ts\`, real sockets, `
    + 'real protocol, distinct loopback source addresses); every peer reconnects as `HeartbeatClient` does: on close it waits '
    + `\`backoffDelay(attempt++)\` with the default reconnect options (${r.config.reconnect.initialDelayMs} ms × ${r.config.reconnect.factor}^attempt, `
    + `capped at ${r.config.reconnect.maxDelayMs} ms, ±${r.config.reconnect.jitter * 100} % jitter) and a completed handshake resets the attempt count. `
    + `Once all N are in and ${r.config.settleMs} ms have passed, the server restarts in-process: \`app.close()\` (ours says goodbye to every peer; `
    + 'stock destroys the sockets), then a new app on the same port. The server measures itself from the restart until every peer is back: '
    + 'CPU per 100 ms (`process.cpuUsage()`), event-loop delay (`monitorEventLoopDelay`, 10 ms resolution), peers back per second, repeats and omissions. '
    + '*ours*: `HeartbeatServer`; a peer is back at its `joined` event on the new server (the lean peers of B2 with stable nodeIds: hello/welcome, '
    + 'ping/pong at 1 Hz). *stock*: `Transport.TCP` (`ServerTCP`) with `@MessagePattern(\'hello\')`; each peer, on connect, sends the request a '
    + '`ClientTCP` would (`{ pattern, data, id }` in Nest\'s framing) and can send again once it is answered (stock clients have no heartbeat). '
    + '*Control (ours)*: a second `HeartbeatServer` in the same process as the storm server, never restarted, holds one real `HeartbeatClient` '
    + 'app (`bench/b5/control-peer.ts`, defaults: suspect after 1,500 ms of silence) in its own process. The control peer judges the '
    + 'storm process with its own detector, whose thresholds are *not* stretched by the storm process\'s loop lag, so a `suspect` there is a heartbeat '
    + 'the storm delayed; the control server\'s view of the peer is counted too. SYNs dropped: the kernel\'s `ListenDrops` counter '
    + '(per network namespace, so other jobs may add to it) read around the restart.', '');
  out.push(b5Table(r), '');
  const top = r.summary.find((s) => s.impl === 'ours' && s.requested === Math.max(...r.config.steps));
  if (top) {
    const inBound = top.complete === top.n && top.allBackFromListeningMs.max <= r.config.boundMs;
    out.push(`**Targets at ${fmt(top.peers)} peers (ours).** All back within maxDelayMs + 2 s = ${fmt(r.config.boundMs)} ms of the server listening again: `
      + `${yes(inBound)} (${top.complete}/${top.n} runs complete; ${range(top.allBackFromListeningMs)} ms). No peer reported twice or left out: `
      + `${yes(top.duplicates === 0 && top.missing === 0)} (${top.duplicates} reported twice, ${top.missing} missing; ${top.lostAfterJoining} lost again after joining). Zero false suspects on the control peer: `
      + `${yes(r.summary.filter((s) => s.impl === 'ours').every((s) => s.controlSuspect === 0 && s.controlLost === 0))}.`, '');
  }
  out.push(analysis('b5'));
  return out.join('\n');
}

function b8Section(r: B8Result): string {
  const out: string[] = [];
  const c = r.config;
  out.push('## B8 — rolling restart under load', '');
  out.push(`Machine: ${machineLine(r.machine)}. Took ${fmt(r.durationMs / 1000)} s.`, '');
  out.push('**Method.** Per (implementation, repetition): a Service in the benchmark process (`lab/tcp-balancer.ts`: one address, each new '
    + 'connection to the next endpoint, round robin; an endpoint taken out gets no new connection and keeps its open ones, as kube-proxy), two '
    + `server processes as its endpoints (\`bench/b8/rr-server.ts\`: \`@MessagePattern('work')\` answers after ${c.workMs} ms), one load process `
    + `(\`bench/b8/rr-load.ts\`) with ${c.callers} callers, each its own connection through the Service (half on each instance), sending `
    + `${c.rate} requests/s in all, open loop, round robin over the callers. After ${fmt(c.warmupMs)} ms each instance is replaced as a Kubernetes `
    + 'rolling update does it (maxSurge 1, maxUnavailable 0): the replacement starts and joins the endpoints once it listens; the old one leaves the '
    + 'endpoints, then gets SIGTERM (`enableShutdownHooks`: `app.close()`), and exits; '
    + `${fmt(c.settleMs)} ms later the next. Every request is counted: answered, failed (by error), or unanswered 10 s after the sending stopped. `
    + `${c.reps} repetition(s), implementations alternated. *ours*: \`HeartbeatServer\`, one \`HeartbeatClient\` per caller (its own nodeId, `
    + `\`waitForReadyMs\` ${fmt(c.waitForReadyMs)}: a request made while the caller has no link waits for one). *stock*: \`Transport.TCP\` `
    + '(`ServerTCP`), one `ClientTCP` per caller (it connects again on the next send).', '');
  out.push('| impl | runs | requests | failed | unanswered | failed per run | in flight at each SIGTERM | old process exits after SIGTERM, ms | '
    + 'latency p99 / max ms (whole run) | during the restarts: p99 / max ms | errors |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const s of r.summary) {
    const errors = Object.entries(s.errors).map(([e, n]) => `${n}× \`${e}\``).join('; ') || '–';
    out.push(`| ${s.impl} | ${s.n} | ${fmt(s.sent)} | ${fmt(s.failed)} | ${fmt(s.unanswered)} | ${range(s.failedPerRun)} | ${range(s.inFlightAtSigterm)} | `
      + `${range(s.exitMs)} | ${fmt(s.p99Ms.median)} / ${fmt(s.maxMs.median)} | ${fmt(s.restartP99Ms.median)} / ${fmt(s.restartMaxMs.median)} | ${errors} |`);
  }
  out.push('');
  out.push('Per run:', '', '| impl | rep | sent | achieved req/s | failed | unanswered | restarts: boot ms / exit ms / in flight at SIGTERM | connections per instance |', '|---|---:|---:|---:|---:|---:|---|---|');
  for (const run of r.runs) {
    out.push(`| ${run.impl} | ${run.rep + 1} | ${fmt(run.sent)} | ${fmt(run.achievedRate)} | ${run.failed} | ${run.unanswered} | `
      + `${run.restarts.map((x) => `${x.old}→${x.replacement}: ${fmt(x.bootMs)} / ${fmt(x.exitMs)} / ${x.inFlightAtSigterm}`).join('; ')} | `
      + `${Object.values(run.connections).join(' / ')} |`);
  }
  out.push('');
  out.push(analysis('b8'));
  return out.join('\n');
}

/** The earlier runs of the same measurement, taken by the browser spec before B9 (bench/results/dashboard.json). */
interface DashboardTestRuns {
  runs: Array<{ date: string; pagesOpenedInMs: number; frameMs: { median: number; p99: number; max: number; frames: number };
    serverCpuPercent: { withoutPagesBefore: number; with20Pages: number; withoutPagesAfter: number; added: number }; loadAverage: { before: string } }>;
}

function b9Section(r: B9Result, earlier?: DashboardTestRuns): string {
  const out: string[] = [];
  const c = r.config;
  const sm = r.summary;
  out.push('## B9 — the presence page at 1,000 peers', '');
  out.push(`Machine: ${machineLine(r.machine)}; ${r.machine.chromium}. Took ${fmt(r.durationMs / 1000)} s.`, '');
  out.push(`**Method.** \`bench/b9-dashboard-load.ts\`. ${r.method.join(' ')}`, '');
  out.push(`| rep | load average at start | steal % | frame median / p99 / max ms (frames) | server CPU without / with ${c.pages} pages / without, % of a core | added % | ${c.pages} pages open in ms | rows in the document |`);
  out.push('|---:|---|---:|---|---|---:|---:|---:|');
  for (const run of r.runs) {
    const f = run.frameMs;
    const cpu = run.serverCpuPercent;
    out.push(`| ${run.rep + 1} | ${run.system.loadAverageStart.map((x) => x.toFixed(2)).join(' ')} | ${fmt(run.system.stealPct, 1)} | ${fmt(f.median, 1)} / ${fmt(f.p99, 1)} / ${fmt(f.max, 1)} (${f.frames}) | `
      + `${fmt(cpu.withoutPagesBefore, 2)} / ${fmt(cpu.withPages, 2)} / ${fmt(cpu.withoutPagesAfter, 2)} | ${fmt(cpu.added, 2)} | ${fmt(run.pagesOpenedInMs)} | ${run.rowsInDocument} |`);
  }
  out.push(`| **median (min–max)** | ${range(sm.loadAverage1m, 2)} | ${range(sm.stealPct, 1)} | ${range(sm.frameMedianMs, 1)} / ${range(sm.frameP99Ms, 1)} / ${range(sm.frameMaxMs, 1)} | `
    + `${range(sm.serverCpuWithoutPagesPercent, 2)} without (mean of the two) / ${range(sm.serverCpuWithPagesPercent, 2)} | ${range(sm.serverCpuAddedPercent, 2)} | ${range(sm.pagesOpenedInMs)} | |`, '');
  const errors = r.runs.flatMap((run) => run.pageErrors);
  out.push(`Page errors (page, console, CSP): ${errors.length === 0 ? 'none' : errors.slice(0, 5).map((e) => `\`${e}\``).join('; ')}.`, '');
  if (earlier) {
    out.push('Earlier runs, from the browser spec before B9 (`bench/results/dashboard.json`, same method, one run per test run):', '');
    out.push('| date | load average | frame median / p99 / max ms (frames) | server CPU without / with 20 pages / without, % | added % |', '|---|---|---|---|---:|');
    for (const run of earlier.runs) {
      const f = run.frameMs;
      const cpu = run.serverCpuPercent;
      out.push(`| ${run.date.slice(0, 16).replace('T', ' ')} | ${run.loadAverage.before} | ${fmt(f.median, 1)} / ${fmt(f.p99, 1)} / ${fmt(f.max, 1)} (${f.frames}) | `
        + `${fmt(cpu.withoutPagesBefore, 2)} / ${fmt(cpu.with20Pages, 2)} / ${fmt(cpu.withoutPagesAfter, 2)} | ${fmt(cpu.added, 2)} |`);
    }
    out.push('');
  }
  out.push(analysis('b9'));
  return out.join('\n');
}

export function renderResults(): string {
  const b1 = readResult<B1Result>('b1');
  const b1ba = readResult<B1Result>('b1-before-after');
  const b2 = readResult<B2Result>('b2');
  const b3 = readResult<B3Result>('b3');
  const b4 = readResult<B4Result>('b4');
  const b4Scale = readResult<B4ScaleResult>('b4-scale');
  const b5 = readResult<B5Result>('b5');
  const b6 = readResult<B6Result>('b6');
  const b7 = readResult<B7Result>('b7');
  const b8 = readResult<B8Result>('b8');
  const b9 = readResult<B9Result>('b9');
  const run = readResult<{ startedAt: string; durationMs: number; machine: MachineInfo; parts: Record<string, number> }>('run');
  const out: string[] = [];
  out.push('# nest-heartbeat — benchmark results', '');
  out.push('Generated by `npm run bench` (bench/run.ts); each benchmark also runs alone: `node --import tsx bench/b1-throughput.ts`, '
    + '`bench/b2-heartbeat-scale.ts`, `bench/b3-detection.ts`, `bench/b4-cluster.ts`, `bench/b5-reconnect-storm.ts`, `bench/b6-detection-qos.ts`, `bench/b7-hostile-load.ts`, `bench/b8-rolling-restart.ts`, `bench/b9-dashboard-load.ts`. Raw data: `bench/results/*.json`. Everything runs on this machine over '
    + 'loopback (B3\'s cable pull over veth pairs into network namespaces; B4 against a local redis-server).', '');
  if (run) {
    out.push(`Last full run: ${run.startedAt}, ${fmt(run.durationMs / 1000)} s in total (${Object.entries(run.parts).map(([k, v]) => `${k} ${fmt(v / 1000)} s`).join(', ')}).  `);
    out.push(`Machine: ${machineLine(run.machine)}.`, '');
  }
  out.push('The machine is shared and noisy (other jobs run on the same 2 cores): absolute figures move a lot from run to run, so only figures '
    + 'taken in the same run are compared, implementations are alternated, and medians are given with min–max.', '');
  out.push(analysis('summary'));
  if (b1) out.push(b1Section(b1, b1ba));
  if (b2) out.push(b2Section(b2));
  if (b3) out.push(b3Section(b3));
  if (b4) out.push(b4Section(b4));
  if (b4Scale) out.push(b4ScaleSection(b4Scale));
  if (b5) out.push(b5Section(b5));
  if (b6) out.push(b6Section(b6, machineLine(b6.machine), analysis('b6'), 'adaptive-6/10'));
  if (b7) {
    const b5Limits = readResult<B5Result>('b5-limits');
    out.push(b7Section(b7, { b5: b5Limits, b5Table: b5Limits && b5Table(b5Limits), b2: readResult<B2Result>('b2-limits') }, readResult<B7Result>('b7-c')));
  }
  if (b8) out.push(b8Section(b8));
  if (b9) out.push(b9Section(b9, readResult<DashboardTestRuns>('dashboard')));
  const text = `${out.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
  writeFileSync(join(BENCH_DIR, 'RESULTS.md'), text);
  return text;
}
