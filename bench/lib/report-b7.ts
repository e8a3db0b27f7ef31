/** The B7 section of bench/RESULTS.md (hostile load), with the B5/B2 re-checks of the new defaults. */
import { fmt } from './common.js';
import { analysis, machineLine, range, yes } from './report-format.js';
import type { B2Result, B5Result, B7BigFrames, B7Churn, B7Honest, B7Phase, B7Result, B7Slowloris, B7System } from './results.js';

const KiB = 1024;
const MiB = 1024 * 1024;

function system(s: B7System): string {
  return `load ${s.loadAverageStart.map((x) => x.toFixed(1)).join('/')} → ${s.loadAverageEnd.map((x) => x.toFixed(1)).join('/')}, steal ${fmt(s.stealPct, 1)} %`;
}

function honest(h: B7Honest): string {
  const events = Object.entries(h.events).map(([k, v]) => `${k} ×${v}`).join(', ') || 'no event';
  return `${h.status ?? '–'} (${events}); ${fmt(h.echo.p50, 1)} / ${fmt(h.echo.p99, 0)} / ${fmt(h.echo.max, 0)}${h.echo.failed ? `, **${h.echo.failed} failed**` : ''}; ${fmt(h.maxSilenceMs)}`;
}

function loop(p: B7Phase): string {
  return `${fmt(p.loopDelayMs.p50, 1)} / ${fmt(p.loopDelayMs.p99, 1)} / ${fmt(p.loopDelayMs.max)}`;
}

function bigFramesTable(rows: B7BigFrames[]): string {
  const out = [
    '| frame announced | impl | sockets held at 8 s | heap growth per socket, KiB | RSS growth per socket, KiB | heap at 8 s / at 20 s, MiB (base) | server sockets at 20 s | '
    + 'server CPU % · loop delay p50 / p99 / max ms | honest peer: status; request RTT p50 / p99 / max ms; longest silence ms | machine |',
    '|---|---|---:|---:|---:|---:|---:|---|---|---|',
  ];
  for (const r of rows) {
    out.push(`| ${r.variant === 'announce-4MiB' ? '4 MiB (`4194304#`)' : '64 KiB (`65536#`, the cap)'} | ${r.impl} | ${fmt(r.attackersAtPeak.open)} of ${fmt(r.sockets)} | `
      + `**${fmt(r.heapGrowthPerSocketBytes / KiB, 1)}** | ${fmt(r.rssGrowthPerSocketBytes / KiB, 1)} | ${fmt(r.heapPeak / MiB, 1)} / ${fmt(r.heapAfter / MiB, 1)} (${fmt(r.heapBase / MiB, 1)}) | `
      + `${fmt(r.serverAfter.connections - 1)} | ${fmt(r.serverPhase.cpuPct)} · ${loop(r.serverPhase)} | ${honest(r.honest)} | ${system(r.system)} |`);
  }
  return out.join('\n');
}

function churnTable(rows: B7Churn[]): string {
  const out = [
    '| churn | impl | phase | s | joins/s | server CPU % | CPU µs per join | loop delay p50 / p99 / max ms | retained at the end | table entries | heap after GC at the end, MiB | honest peer events |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    const rate = r.perSecond ? `${fmt(r.perSecond)}/s` : 'max rate';
    const ends = { join: 'afterJoin', expiry: 'afterExpiry', tail: 'afterTail' } as const;
    for (const name of ['join', 'expiry', 'tail'] as const) {
      const p = r.phases[name];
      const events = name === 'tail' ? r.honest.tail.events : r.honest.churn.events;
      out.push(`| ${rate} | ${r.impl} | ${name} | ${fmt(p.elapsedMs / 1000)} | ${fmt(p.joinsPerSecond)} | ${fmt(p.cpuPct)} | ${p.cpuUsPerJoin === null || p.joins < 100 ? '–' : fmt(p.cpuUsPerJoin)} | ${loop(p)} | `
        + `${fmt(r.retained[ends[name]])} | ${fmt(r.tableSize[ends[name]])} | ${fmt(r.heap[ends[name]] / MiB)} | ${name === 'expiry' ? '' : Object.entries(events).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'} |`);
    }
  }
  return out.join('\n');
}

function slowlorisTable(rows: B7Slowloris[]): string {
  const out = [
    '| impl | server sockets, max | handshaking, max | accepted / refused at accept | heap after GC, MiB (base → every 10 s) | server CPU % · loop delay p50 / p99 / max ms | '
    + 'honest peer: status; request RTT p50 / p99 / max ms; longest silence ms | new honest peer (starts at 5 s): joined after | machine |',
    '|---|---:|---:|---:|---|---|---|---|---|',
  ];
  for (const r of rows) {
    out.push(`| ${r.impl} | ${fmt(r.maxConnections - 1)} | ${r.maxPendingHandshakes === null ? '– (not counted)' : fmt(r.maxPendingHandshakes)} | `
      + `${fmt(r.serverPhase.accepted)} / ${fmt(r.serverPhase.refusedAtAccept)} | ${fmt(r.heapBase / MiB, 1)} → ${r.heaps.map((h) => fmt(h.heapUsed / MiB, 1)).join(' → ')} | `
      + `${fmt(r.serverPhase.cpuPct)} · ${loop(r.serverPhase)} | ${honest(r.honest)} | `
      + `${r.lateJoiner.joinedMs === null ? `**not within ${fmt((r.config.durationMs - r.config.lateAtMs) / 1000)} s**` : `${fmt(r.lateJoiner.joinedMs)} ms`} | ${system(r.system)} |`);
  }
  return out.join('\n');
}

function b2Table(r: B2Result): string {
  const out = [
    '| N (peers) | impl | CPU % of one core | heap / peer, KiB | marginal heap / peer, KiB | RSS / peer, KiB | timers | false lost | suspect |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const requested of r.config.steps) {
    for (const impl of ['baseline', 'ours'] as const) {
      const s = r.summary.find((x) => x.impl === impl && x.requested === requested);
      if (!s) continue;
      out.push(`| ${fmt(s.peers)} | ${impl === 'baseline' ? 'before' : 'after'} | ${range(s.cpuPct, 1)} | ${range(s.heapPerPeerBytes, 2, 1 / KiB)} | `
        + `${s.marginalHeapPerPeerBytes.n ? range(s.marginalHeapPerPeerBytes, 2, 1 / KiB) : '–'} | ${range(s.rssPerPeerBytes, 2, 1 / KiB)} | ${s.baselineTimers} → ${fmt(s.timers.max)} | ${s.falseLost} | ${s.suspect} |`);
    }
  }
  return out.join('\n');
}

const median = (xs: number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? (v[Math.floor((v.length - 1) / 2)] + v[Math.ceil((v.length - 1) / 2)]) / 2 : NaN;
};

function targets(r: B7Result): string {
  const lines: string[] = [];
  const a = r.bigFrames.filter((x) => x.impl === 'after' && x.variant === 'announce-4MiB');
  if (a.length) {
    const worst = Math.max(...a.map((x) => x.heapGrowthPerSocketBytes));
    const calm = a.every((x) => !x.honest.events.suspect && !x.honest.events.lost && x.honest.status === 'alive' && x.honest.echo.failed === 0);
    lines.push(`- (a) heap growth per socket ≤ 64 KiB: ${yes(worst <= 64 * KiB)} (${fmt(worst / KiB, 1)} KiB); honest peer alive, no suspect, no request failed: ${yes(calm)}.`);
  }
  const cap = r.bigFrames.filter((x) => x.impl === 'after' && x.variant !== 'announce-4MiB');
  if (cap.length) {
    const worst = Math.max(...cap.map((x) => x.heapGrowthPerSocketBytes));
    lines.push(`- (a) at the cap (a frame of 64 KiB announced and never finished, the most a socket may hold before its handshake): ${yes(worst <= 64 * KiB)} (${fmt(worst / KiB, 1)} KiB per socket).`);
  }
  for (const rate of r.config.churnRates ?? [null]) {
    const b = r.churn.filter((x) => x.impl === 'after' && x.perSecond === rate);
    if (!b.length) continue;
    const retained = Math.max(...b.map((x) => x.maxRetained));
    const ratio = median(b.map((x) => x.phases.expiry.cpuPct / x.phases.join.cpuPct));
    const perJoin = median(b.map((x) => (x.phases.expiry.cpuUsPerJoin ?? NaN) / (x.phases.join.cpuUsPerJoin ?? NaN)));
    const p99 = Math.max(...b.map((x) => x.phases.expiry.loopDelayMs.p99));
    const joinP99 = Math.max(...b.map((x) => x.phases.join.loopDelayMs.p99));
    const heapGrowth = median(b.map((x) => (x.heap.afterExpiry - x.heap.afterJoin) / MiB));
    lines.push(`- (b) ${rate ? `at ${fmt(rate)} joins/s` : 'at the attacker\'s fastest rate'}: retained ≤ maxRetained (10,000): ${yes(retained <= 10_000)} (at most ${fmt(retained)}); `
      + `heap flat after the cap: ${fmt(heapGrowth, 1)} MiB between the end of the join phase and the end of the expiry phase; `
      + `loop delay p99 in the expiry phase ≤ 20 ms: ${yes(p99 <= 20)} (${fmt(p99, 1)} ms; join phase ${fmt(joinP99, 1)} ms); `
      + `CPU expiry ÷ join ≤ 1.2: ${yes((rate ? ratio : perJoin) <= 1.2)} (${fmt(ratio, 2)}; per join ${fmt(perJoin, 2)}${rate ? '' : ': the rate is not held equal, so per join is the comparison'}).`);
  }
  const c = r.slowloris.filter((x) => x.impl === 'after');
  if (c.length) {
    const pending = Math.max(...c.map((x) => x.maxPendingHandshakes ?? NaN));
    const calm = c.every((x) => !x.honest.events.suspect && !x.honest.events.lost && x.honest.status === 'alive' && x.honest.echo.failed === 0);
    const heapFlat = Math.max(...c.map((x) => Math.max(...x.heaps.map((h) => h.heapUsed)) - x.heapBase)) / MiB;
    lines.push(`- (c) sockets handshaking ≤ maxPendingHandshakes (1,000): ${yes(pending <= 1000)} (${fmt(pending)}), the rest refused at accept; heap at most +${fmt(heapFlat, 1)} MiB over the base; `
      + `connected honest peer unaffected: ${yes(calm)}; a new honest peer joined during the attack: ${yes(c.every((x) => x.lateJoiner.joinedMs !== null))}.`);
  }
  return lines.join('\n');
}

/**
 * `recheck`: the B5 and B2 runs of before and after (b5-limits, b2-limits), with B5's table rendered by report.ts.
 * `cRun`: a later run of part (c) alone (b7-c.json, e.g. after a change to the handshake limit): its
 * slowloris rows replace those of `r` in the table and the targets.
 */
export function b7Section(full: B7Result, recheck: { b5?: B5Result; b5Table?: string; b2?: B2Result }, cRun?: B7Result): string {
  const r: B7Result = cRun?.slowloris.length ? { ...full, slowloris: cRun.slowloris, config: { ...full.config, slowloris: cRun.config.slowloris } } : full;
  const out: string[] = [];
  out.push('## B7 — hostile load', '');
  out.push(`Machine: ${machineLine(r.machine)}. Took ${fmt(r.durationMs / 1000)} s${r.system ? `; over the whole run ${system(r.system)}, machine busy ${fmt(r.system.busyPct)} %` : ''}.`, '');
  out.push('**Method.** *before*: the library at commit 7052938 (before the limits; a separate checkout with its own node_modules); *after*: this tree. '
    + 'Each run starts fresh processes, run from that library\'s checkout: the server (`bench/b7/hostile-server.ts`: a `HeartbeatServer` microservice with '
    + 'the library\'s defaults and `@MessagePattern(\'echo\')`, `--expose-gc`; it measures only itself), an honest `HeartbeatClient` app in its own process '
    + '(`bench/b7/honest-peer.ts`: its own detector, so the server\'s loop lag does not excuse the server; a request every 100 ms, whose round trip is the RTT a '
    + 'user sees, and the longest silence it hears from the server) and one attacker process (`bench/b7/attackers.ts`, raw sockets). before and after alternate. '
    + 'Heap figures are `heapUsed` after two `gc()`; loop delay is `monitorEventLoopDelay` at 5 ms resolution; CPU is the server\'s `process.cpuUsage()`. '
    + 'Machine load average and steal time (`/proc/stat`) are given per run: this machine is shared, and the loop-delay and RTT figures move with its load.', '');
  out.push(`**(a) Frames announced before authentication.** The server has an \`authToken\`; ${fmt(r.config.bigFrames.count)} sockets each write a length prefix, then 4 KiB `
    + 'of the body every 100 ms, never finishing the frame (nor authenticating). Heap growth per socket = (heap 8 s into the attack − heap before) / sockets. '
    + 'At 20 s every socket is past the 10 s handshake deadline (and the ticker\'s 6.4 s wheel, where a closed link waits for its slot to come round).', '');
  out.push(bigFramesTable(r.bigFrames), '');
  out.push(`**(b) Churn of unique nodeIds.** One attacker process keeps ${r.config.churn.concurrency} connections in flight: connect, a hello with a nodeId never used before, FIN, next; `
    + `as fast as it can (*max rate*), or at a fixed rate (the same load in every phase, so their CPU compares directly), for ${fmt((r.config.churn.joinMs + r.config.churn.expiryMs) / 1000)} s, then stops. Phases: *join* (the first ${fmt(r.config.churn.joinMs / 1000)} s: `
    + 'nothing is 60 s old yet), *expiry* (the next minute: the churn goes on, and the first departures reach `retainMs`), *tail* '
    + `(${fmt(r.config.churn.tailMs / 1000)} s without churn: only expiry). Two \`gc()\`s between phases, outside the measured windows. Retained = table entries − peers present.`, '');
  out.push(churnTable(r.churn), '');
  out.push(`**(c) Slowloris.** ${fmt(r.config.slowloris.count)} sockets from one process each write \`200#{"$hb":"hello","id":"\` and then one character a second, `
    + `never finishing the hello; every second, the sockets the server closed are opened again (slowloris.py's loop); ${fmt(r.config.slowloris.durationMs / 1000)} s. `
    + 'The server has an `authToken`. Refused at accept: sockets the server destroyed in its own connection listener (counted by the benchmark\'s listener that runs after it). '
    + `A second honest peer starts ${fmt(r.config.slowloris.lateAtMs / 1000)} s into the attack (a deploy, a restart): time from its \`app.init()\` to the server's \`joined\`.`, '');
  if (r !== full) {
    out.push(`(c) is from a later run of its own (\`bench/results/b7-c.json\`, \`node --import tsx bench/b7-hostile-load.ts --only=c --out=b7-c\`, ${cRun!.machine.date}, `
      + `took ${fmt(cRun!.durationMs / 1000)} s${cRun!.system ? `; ${system(cRun!.system)}` : ''}); (a) and (b) are from \`b7.json\`.`, '');
  }
  out.push(slowlorisTable(r.slowloris), '');
  out.push('**Targets (after).**', '', targets(r), '');
  if (recheck.b5Table || recheck.b2) {
    out.push('### The defaults and honest users: B5 and B2 before / after', '');
    if (recheck.b5 && recheck.b5Table) {
      out.push('B5 (`bench/results/b5-limits.json`, `node --import tsx bench/b5-reconnect-storm.ts --b5-baseline=<before> --impls=baseline,ours --out=b5-limits`; '
        + `*baseline* = before, *ours* = after; target: all back within ${fmt(recheck.b5.config.boundMs)} ms of the server listening; ${machineLine(recheck.b5.machine)}):`, '', recheck.b5Table, '');
    }
    if (recheck.b2) out.push(`B2 idle figures (\`bench/results/b2-limits.json\`, \`--b2-baseline=<before> --impls=baseline,ours --out=b2-limits\`; ${machineLine(recheck.b2.machine)}):`, '', b2Table(recheck.b2), '');
  }
  out.push(analysis('b7'));
  return out.join('\n');
}
