/**
 * nest-heartbeat demo: `npm start` (`npm start -- --help` for options).
 *
 * Starts a HeartbeatServer application (server-app.ts) and several peer applications
 * (peer-app.ts), each its own process, then injects one fault after another and shows what the
 * server's presence detection makes of it: a live peer table, every @OnPeer* event as it fires,
 * and a summary of detection times against their bounds. Exit code 0 when every fault was
 * detected within its bound.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { PeerInfo, PresenceEvent } from '../src/index.js';
import { Cable } from './support/cable.js';
import { ChildApp, killAllChildren, type LogRecord, type Report } from './support/child-app.js';
import { Dashboard, pad, padStart, peerTable } from './support/dashboard.js';
import { describeConnection, killConnection, parseEndpoint, socketKillUnavailable } from './support/socket-kill.js';

// `npm start -- --cluster`: the cluster presence demo (demo/cluster.ts) instead.
if (process.argv.slice(2).includes('--cluster')) {
  const { runClusterDemo } = await import('./cluster.js');
  process.exit(await runClusterDemo().catch((error) => {
    process.stderr.write(`cluster demo failed: ${(error as Error).message}\n`);
    return 1;
  }));
}

// `npm start -- --deploy`: the rolling-update demo (demo/deploy.ts) instead.
if (process.argv.slice(2).includes('--deploy')) {
  const { runDeployDemo } = await import('./deploy.js');
  process.exit(await runDeployDemo().catch((error) => {
    process.stderr.write(`deploy demo failed: ${(error as Error).stack ?? error}\n`);
    return 1;
  }));
}

const HERE = dirname(fileURLToPath(import.meta.url));
const MISSED_BEATS = 3; // the library default
const SUSPECT_AFTER_BEATS = 1; // the library default

const HELP = `Usage: npm start -- [options]

Starts a nest-heartbeat server and several peers as separate processes, then, one after
another: a peer hangs (SIGSTOP), one crashes (SIGKILL), one shuts down gracefully (SIGTERM),
one loses its network cable (a network namespace whose veth link is set down; needs root
and iproute2, skipped otherwise), one hangs briefly and resumes (suspect, then recovered), and
one has its live connection killed under it (ss -K; the server's resume window makes it
suspect, then recovered when the same process reconnects; needs root, skipped otherwise).
Shows the server's peer table live, every presence event, and a summary of detection times.

Options:
  -i, --interval <ms>  heartbeat interval (default 500, half the library's default of 1000,
                       so the demo takes about 45 s; with 1000 it takes about a minute)
  -n, --peers <n>      number of peers (default 7): the first six get the faults above, in
                       that order; more are controls that should see no false alarm; with
                       fewer, the later faults are skipped
      --no-cable       skip the network-namespace fault even when running as root
      --cluster        the cluster presence demo instead: Redis, two replicas, four peers;
                       one replica is killed (needs redis-server; see docs/CLUSTER.md)
      --deploy         the deploy demo instead: a rolling update of the server behind a
                       Service, under four peers' steady requests: 0 failed requests,
                       the old server left, the new one joined, nothing lost
                       (see docs/KUBERNETES.md)
  -v, --verbose        also show the peers' own log lines
  -h, --help           this help

Exit code: 0 when every fault was detected within its bound, 1 otherwise,
130/143 when interrupted (Ctrl-C / SIGTERM). Nothing is left behind either way.`;

type FaultKind = 'hang' | 'crash' | 'graceful' | 'cable' | 'blip' | 'reset';

interface Fault {
  kind: FaultKind;
  what: string;
  peer: string;
  /** The detection bound (see the summary's legend). */
  boundMs: number;
  skipped?: string;
  startedAt?: number;
  endedAt?: number;
  /** One line per measured event. */
  results: Array<{ event: string; ms?: number; boundMs: number; ok: boolean }>;
  notes: string[];
}

interface PresenceReport extends Report, PresenceEvent {}

// ---------------------------------------------------------------------------------------------

function options() {
  const spec = {
    interval: { type: 'string', short: 'i', default: '500' },
    peers: { type: 'string', short: 'n', default: '7' },
    'no-cable': { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  } as const;
  let parsed: ReturnType<typeof parseArgs<{ options: typeof spec }>>;
  try {
    parsed = parseArgs({ options: spec });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const intervalMs = Number(values.interval);
  const peers = Number(values.peers);
  if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > 10_000) throw new UsageError('--interval must be an integer from 100 to 10000 (ms)');
  if (!Number.isInteger(peers) || peers < 1 || peers > 20) throw new UsageError('--peers must be an integer from 1 to 20');
  return { intervalMs, peers, noCable: values['no-cable'], verbose: values.verbose };
}

class UsageError extends Error {}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------

const ui = new Dashboard();
const { c } = ui;
let cable: Cable | undefined;
const t0 = Date.now();
const stamp = (at = Date.now()) => c.dim(`+${((at - t0) / 1000).toFixed(1).padStart(5)}s`);

/** Every exit path (normal, error, Ctrl-C, SIGTERM) removes children and the namespace. */
function cleanupSync(): void {
  killAllChildren();
  cable?.destroySync();
  ui.restoreTerminal();
}
process.on('exit', cleanupSync);
function interrupt(why: string, code: number): void {
  ui.stop();
  process.stdout.write(`\n${why}: stopping every process${cable ? ' and removing the network namespace' : ''}\n`);
  cleanupSync();
  process.exit(code);
}
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.once(signal, () => interrupt(signal, code));
}
// `npm start` does not pass a SIGTERM on to us: notice when our parent goes away.
const parentPid = process.ppid;
setInterval(() => process.ppid !== parentPid && interrupt(`parent process ${parentPid} exited`, 143), 250).unref();

async function main(): Promise<number> {
  const opts = options();
  const i = opts.intervalMs;
  const hangBound = MISSED_BEATS * i + i;
  const suspectBound = SUSPECT_AFTER_BEATS * i + i;
  const blipStopMs = Math.round(1.75 * i);
  const pauseMs = Math.max(1500, 6 * i);
  // The server forgives a broken connection for this long (heartbeat.resumeWindowMs). A crash
  // breaks the connection too, so it is reported lost when the window ends.
  const resumeWindowMs = 3 * i;

  const catalog: Array<Omit<Fault, 'peer' | 'results' | 'notes'>> = [
    { kind: 'hang', what: 'hang (SIGSTOP)', boundMs: hangBound },
    { kind: 'crash', what: 'crash (SIGKILL)', boundMs: resumeWindowMs + 200 },
    { kind: 'graceful', what: 'graceful (SIGTERM)', boundMs: 100 },
    { kind: 'cable', what: 'cable (veth down)', boundMs: hangBound },
    { kind: 'blip', what: 'brief hang (SIGSTOP)', boundMs: suspectBound },
    { kind: 'reset', what: 'reset (ss -K)', boundMs: 200 },
  ];
  const ids = Array.from({ length: opts.peers }, (_, k) => `peer-${k + 1}`);
  const faults: Fault[] = catalog.map((f, k) => ({
    ...f, peer: ids[k] ?? `peer-${k + 1}`, results: [], notes: [],
    skipped: k < ids.length ? undefined : `needs --peers ${k + 1} or more`,
  }));
  const roles = new Map(ids.map((id, k) => [id, faults[k] && !faults[k].skipped ? faults[k].kind : 'control']));

  // The cable fault needs a network namespace.
  const cableFault = faults.find((f) => f.kind === 'cable')!;
  if (!cableFault.skipped) {
    cableFault.skipped = opts.noCable ? 'disabled with --no-cable' : await Cable.unavailable();
    if (!cableFault.skipped) {
      try {
        cable = await Cable.create();
      } catch (error) {
        cableFault.skipped = `cannot create a network namespace: ${(error as Error).message}`;
      }
    }
    if (cableFault.skipped) roles.set(cableFault.peer, 'control');
  }
  // The reset fault kills the live TCP connection from outside both processes (ss -K).
  const resetFault = faults.find((f) => f.kind === 'reset')!;
  if (!resetFault.skipped) {
    resetFault.skipped = await socketKillUnavailable();
    if (resetFault.skipped) roles.set(resetFault.peer, 'control');
  }

  ui.log(c.bold(`nest-heartbeat demo: a server and ${plural(opts.peers, 'peer')}, one process each`));
  ui.log(c.dim(`  interval ${i} ms, missedBeats ${MISSED_BEATS}: suspect at ${SUSPECT_AFTER_BEATS * i + i / 2} ms of silence, lost at ${MISSED_BEATS * i + i / 2} ms`));
  ui.log(c.dim(`  bounds: hang/cable ${hangBound} ms, SIGKILL suspect 200 ms then lost at the ${resumeWindowMs} ms resume window's end, graceful 100 ms, brief hang ${suspectBound} ms, reset suspect 200 ms then recovered`));
  ui.log(cable
    ? c.dim(`  cable: ${cableFault.peer} runs in namespace ${cable.namespace} at ${cable.nsAddress},\n         the server listens on ${cable.hostAddress}`)
    : c.yellow(`  cable fault skipped: ${cableFault.skipped}`));

  // Server state, as reported by server-app.ts.
  let table: { at: number; peers: PeerInfo[]; health?: any } = { at: Date.now(), peers: [] };
  const tableWaiters: Array<() => void> = [];
  /** Resolves on the next table snapshot from the server (so a printed table is never stale). */
  const nextTable = () => new Promise<void>((resolve) => {
    tableWaiters.push(resolve);
    setTimeout(resolve, 1000);
  });
  let quiet = false;
  const presence: PresenceReport[] = [];
  let current: Fault | undefined;
  const healthLine = () => {
    const fleet = table.health?.details?.fleet;
    if (!fleet) return undefined;
    const paint = fleet.status === 'up' ? c.green : fleet.status === 'degraded' ? c.yellow : c.red;
    const down = (fleet.peers as Array<{ id: string; status: string }>).filter((p) => p.status === 'lost' || p.status === 'left')
      .sort((x, y) => x.id.localeCompare(y.id, undefined, { numeric: true })).map((p) => `${p.id} ${p.status}`);
    return c.dim('terminus health: ') + paint(fleet.status)
      + c.dim(` (${fleet.alive}/${fleet.peers.length} alive, minAlive ${fleet.required}${down.length ? `; ${down.join(', ')}` : ''})`);
  };
  const onLog = (who: string) => (record: LogRecord) => quiet ||
    ui.log(`${stamp()}   ${c.dim(`[${who}] ${record.level} ${record.context ? `${record.context}: ` : ''}${String(record.message)}`)}`);

  const onServerReport = (r: Report) => {
    if (r.evt === 'table') {
      table = r as unknown as typeof table;
      for (const wake of tableWaiters.splice(0)) wake();
    } else if (r.evt === 'presence') {
      const e = r as PresenceReport;
      presence.push(e);
      if (quiet) return;
      const paint = { joined: c.green, suspect: c.yellow, recovered: c.green, lost: c.red, left: c.blue }[e.type];
      const detail = e.type === 'lost' ? e.reason : e.type === 'joined' ? `${e.peer.address}${e.peer.stats.reconnects ? ' (again)' : ''}` : '';
      const since = current?.peer === e.peer.id && current.startedAt !== undefined ? c.cyan(`fault +${e.at - current.startedAt} ms`) : '';
      ui.log(`${stamp(e.at)} ${paint(pad(`● ${e.type}`, 11))} ${pad(e.peer.id, 7)} ${pad(detail ?? '', 26)} ${since}`.trimEnd());
    }
  };

  // --- start the server, then the peers ------------------------------------------------------
  ui.live(() => peerTable({ peers: table.peers, at: table.at, roles, health: healthLine() }, c));
  const server = new ChildApp('server', join(HERE, 'server-app.ts'), {
    DEMO_HOST: cable?.hostAddress ?? '127.0.0.1',
    DEMO_PORT: '0',
    DEMO_INTERVAL_MS: String(i),
    DEMO_MIN_ALIVE: String(Math.max(1, opts.peers - 1)),
    DEMO_RESUME_WINDOW_MS: String(resumeWindowMs),
  }, { onReport: onServerReport, onLog: onLog('server'), keep: (r) => r.evt !== 'table' });
  const ready = await server.waitFor((r) => r.evt === 'ready', 60_000, 'ready line');
  const serverAddress = `${ready.address.address}:${ready.address.port}`;
  ui.log(`${stamp()} server listening on ${serverAddress} (pid ${server.pid})`);

  const peers = new Map<string, ChildApp>();
  for (const id of ids) {
    const inNamespace = cable && id === cableFault.peer && !cableFault.skipped;
    peers.set(id, new ChildApp(id, join(HERE, 'peer-app.ts'), {
      DEMO_NODE_ID: id,
      DEMO_ROLE: roles.get(id)!,
      DEMO_SERVER: serverAddress,
      DEMO_INTERVAL_MS: String(i),
      // Control peers send a request every 2 intervals: data counts as beats, so fewer pings.
      DEMO_WORK_EVERY_MS: roles.get(id) === 'control' ? String(2 * i) : '0',
    }, { netns: inNamespace ? cable!.namespace : undefined, onLog: opts.verbose ? onLog(id) : undefined }));
  }
  const joinedAfter = async (id: string, since: number, timeoutMs: number) =>
    server.waitFor((r) => r.evt === 'presence' && r.type === 'joined' && r.peer.id === id && r.at >= since, timeoutMs, `join of ${id}`);
  await Promise.all(ids.map((id) => Promise.race([
    joinedAfter(id, 0, 60_000),
    peers.get(id)!.exited.then(() => { throw new Error(`${id} exited during start-up`); }),
  ])));
  ui.log(`${stamp()} all ${ids.length} peers joined; settling for ${3 * i} ms`);
  await sleep(3 * i);
  if (!ui.tty) await nextTable();
  ui.printTable('peers before the faults');

  // --- faults, one after another --------------------------------------------------------------
  const firstEvent = (id: string, types: string[], since: number, timeoutMs: number) =>
    server.waitFor((r) => r.evt === 'presence' && r.peer.id === id && types.includes(r.type) && r.at >= since, timeoutMs, `${types.join('/')} of ${id}`)
      .then((r) => r as PresenceReport, () => undefined);
  const expectEvent = (f: Fault, e: PresenceReport | undefined, type: string, from: number, boundMs: number, label = type) => {
    const ok = e !== undefined && e.type === type && e.at - from <= boundMs;
    const event = e === undefined ? 'nothing' : `${e.type}${e.reason ? ` (${e.reason})` : ''}`;
    f.results.push({ event: e && e.type === type ? `${label}${e.reason ? ` (${e.reason})` : ''}` : `${event}, expected ${type}`, ms: e ? e.at - from : undefined, boundMs, ok });
  };

  const active = faults.filter((f) => !f.skipped);
  for (const [n, f] of active.entries()) {
    const peer = peers.get(f.peer)!;
    current = f;
    ui.log(`${stamp()} ${c.bold(c.cyan(`▶ fault ${n + 1}/${active.length}: ${f.what} on ${f.peer}`))} ${c.dim(`(pid ${peer.pid}; bound ${f.boundMs} ms)`)}`);
    const detectWithin = 3 * f.boundMs + 3000;
    f.startedAt = Date.now();
    switch (f.kind) {
      case 'hang': {
        peer.signal('SIGSTOP');
        const e = await firstEvent(f.peer, ['lost', 'left'], f.startedAt, detectWithin);
        const suspect = presence.find((p) => p.peer.id === f.peer && p.type === 'suspect' && p.at >= f.startedAt!);
        if (suspect) f.notes.push(`suspect after ${suspect.at - f.startedAt} ms`);
        expectEvent(f, e, 'lost', f.startedAt, f.boundMs);
        await sleep(2 * i);
        // The process comes back: its client finds its connection closed and reconnects.
        const resumedAt = Date.now();
        ui.log(`${stamp()} ${c.cyan(`  ${f.peer} resumes (SIGCONT): its client reconnects`)}`);
        peer.signal('SIGCONT');
        const rejoined = await joinedAfter(f.peer, resumedAt, 15_000).catch(() => undefined);
        f.notes.push(rejoined ? `resumed, rejoined ${rejoined.at - resumedAt} ms after SIGCONT (reconnects ${rejoined.peer.stats.reconnects})` : 'resumed, but did not rejoin within 15 s');
        break;
      }
      case 'crash': {
        peer.signal('SIGKILL');
        const suspect = await firstEvent(f.peer, ['suspect', 'lost', 'left'], f.startedAt, detectWithin);
        expectEvent(f, suspect, 'suspect', f.startedAt, 200, 'suspect (connection closed)');
        expectEvent(f, await firstEvent(f.peer, ['lost', 'left'], f.startedAt, detectWithin), 'lost', f.startedAt, f.boundMs);
        f.notes.push(`lost when the ${resumeWindowMs} ms resume window ended`);
        break;
      }
      case 'reset': {
        // Kill the server's end of the live connection: RST to the peer, nothing said by either app.
        // Both ends name it: the server's listening address (127.0.0.1, or the cable's host
        // address as root) and port, and the peer's address and port as the server sees them.
        const local = parseEndpoint(serverAddress);
        const remote = parseEndpoint(table.peers.find((p) => p.id === f.peer)?.address);
        const killed = local && remote ? await killConnection(local, remote) : [];
        const connection = local && remote ? describeConnection(local, remote) : `no address for ${f.peer} in the server's table`;
        if (killed.length !== 1) {
          // Loudly: a reset that resets nothing would measure nothing.
          const what = `ss -K killed ${killed.length} sockets, expected 1 (${connection})`;
          ui.log(`${stamp()} ${c.red(`  ✖ ${what}`)}`);
          f.results.push({ event: what, boundMs: f.boundMs, ok: false });
          break;
        }
        ui.log(`${stamp()} ${c.cyan(`  ss -K killed the server's end of ${connection}: the peer's client reconnects`)}`);
        const suspect = await firstEvent(f.peer, ['suspect', 'lost', 'left'], f.startedAt, detectWithin);
        expectEvent(f, suspect, 'suspect', f.startedAt, f.boundMs, 'suspect (connection-reset)');
        const recovered = await firstEvent(f.peer, ['recovered', 'lost', 'left'], f.startedAt, resumeWindowMs + detectWithin);
        expectEvent(f, recovered, 'recovered', f.startedAt, resumeWindowMs, 'recovered (same incarnation)');
        await sleep(resumeWindowMs); // and no lost when the window would have ended
        const lost = presence.find((p) => p.peer.id === f.peer && (p.type === 'lost' || p.type === 'left') && p.at >= f.startedAt!);
        if (lost) f.results.push({ event: `${lost.type} after recovering (never expected)`, ms: lost.at - f.startedAt, boundMs: 0, ok: false });
        f.notes.push(`resume window ${resumeWindowMs} ms: no lost, no joined`);
        break;
      }
      case 'graceful': {
        peer.signal('SIGTERM');
        expectEvent(f, await firstEvent(f.peer, ['lost', 'left'], f.startedAt, detectWithin), 'left', f.startedAt, f.boundMs);
        const code = await Promise.race([peer.exited.then(() => peer.child.exitCode ?? peer.child.signalCode), sleep(5000).then(() => 'still running')]);
        f.notes.push(`process exited (${code})`);
        break;
      }
      case 'cable': {
        await cable!.cut();
        ui.log(`${stamp()} ${c.cyan(`  ${cable!.nsInterface} is down: no FIN, no RST, no error on either socket`)}`);
        expectEvent(f, await firstEvent(f.peer, ['lost', 'left'], f.startedAt, detectWithin), 'lost', f.startedAt, f.boundMs);
        const suspect = presence.find((p) => p.peer.id === f.peer && p.type === 'suspect' && p.at >= f.startedAt!);
        if (suspect) f.notes.push(`suspect after ${suspect.at - f.startedAt} ms`);
        break;
      }
      case 'blip': {
        peer.signal('SIGSTOP');
        await sleep(blipStopMs);
        const resumedAt = Date.now();
        peer.signal('SIGCONT');
        ui.log(`${stamp()} ${c.cyan(`  ${f.peer} resumes (SIGCONT) after ${resumedAt - f.startedAt} ms`)}`);
        f.notes.push(`stopped for ${resumedAt - f.startedAt} ms (1.75 intervals)`);
        const suspect = await firstEvent(f.peer, ['suspect', 'lost', 'left'], f.startedAt, 2 * i);
        expectEvent(f, suspect, 'suspect', f.startedAt, f.boundMs);
        const recovered = await firstEvent(f.peer, ['recovered', 'lost', 'left'], f.startedAt, 3 * i);
        expectEvent(f, recovered, 'recovered', resumedAt, i, 'recovered (from SIGCONT)');
        await sleep(2 * i); // and it must not be lost afterwards
        const lost = presence.find((p) => p.peer.id === f.peer && (p.type === 'lost' || p.type === 'left') && p.at >= f.startedAt!);
        if (lost) f.results.push({ event: `${lost.type} after resuming (never expected)`, ms: lost.at - f.startedAt, boundMs: 0, ok: false });
        break;
      }
    }
    f.endedAt = Date.now();
    current = undefined;
    const verdict = f.results.every((r) => r.ok) ? c.green('OK') : c.red('MISSED');
    const measured = f.results.map((r) => `${r.event} ${r.ms ?? '–'} ms ≤ ${r.boundMs} ms`);
    ui.log(`${stamp()}   ${verdict} ${c.dim(measured.join('; '))}`);
    if (!ui.tty) await nextTable();
    ui.printTable(`after ${f.what}`);
    await sleep(n === active.length - 1 ? 2 * i : pauseMs);
  }

  // --- false alarms: suspect/lost of a peer outside its own fault --------------------------------
  const windows = new Map(active.map((f) => [f.peer, [f.startedAt!, f.kind === 'hang' ? f.endedAt! : Infinity] as const]));
  const falseAlarms = presence.filter((e) => (e.type === 'suspect' || e.type === 'lost')
    && !(windows.has(e.peer.id) && e.at >= windows.get(e.peer.id)![0] && e.at <= windows.get(e.peer.id)![1]));

  if (!ui.tty) await nextTable();
  ui.printTable('final');
  ui.stop();
  quiet = true; // the teardown's own events are not part of the story

  // --- summary -----------------------------------------------------------------------------------
  const out: string[] = ['', c.bold(`Summary (interval ${i} ms, missedBeats ${MISSED_BEATS}; detected = event time - fault time)`)];
  const line = (fault: string, event: string, ms: string, bound: string, result: string) =>
    ` ${pad(fault, 20)} ${pad(event, 29)} ${padStart(ms, 8)}  ${pad(bound, 9)} ${result}`;
  out.push(c.dim(line('fault', 'event', 'detected', 'bound', 'result')));
  for (const f of faults) {
    if (f.skipped) {
      out.push(` ${pad(f.what, 20)} ${c.yellow(`skipped (${f.peer}): ${f.skipped}`)}`);
      continue;
    }
    f.results.forEach((r, k) => {
      out.push(line(k === 0 ? f.what : '', r.event, r.ms === undefined ? '–' : `${r.ms} ms`, `≤ ${r.boundMs} ms`, r.ok ? c.green('OK') : c.red('MISSED')));
    });
    const notes = [`on ${f.peer}`, ...f.notes];
    if (notes.length > 1 && notes[0].length + notes[1].length < 56) notes.splice(0, 2, `${notes[0]}; ${notes[1]}`);
    for (const note of notes) out.push(c.dim(` ${pad('', 20)} ${note}`));
  }
  const falseLost = falseAlarms.filter((e) => e.type === 'lost');
  out.push(falseAlarms.length === 0
    ? ` ${pad('false alarms', 20)} ${c.green('none')} ${c.dim('(no suspect or lost outside a fault)')}`
    : ` ${pad('false alarms', 20)} ${c.yellow(falseAlarms.map((e) => `${e.type} ${e.peer.id} at ${stamp(e.at)}`).join(', '))}`);
  const ran = faults.filter((f) => !f.skipped);
  const missed = ran.filter((f) => f.results.some((r) => !r.ok));
  const code = missed.length === 0 && falseLost.length === 0 ? 0 : 1;
  out.push(c.dim(` bounds: hang, cable: missedBeats × interval + interval = ${hangBound} ms;`),
    c.dim(`   SIGKILL: suspect within 200 ms, lost when the resume window (${resumeWindowMs} ms) ends (+200 ms);`),
    c.dim(`   graceful 100 ms; brief hang: suspect within suspectAfterBeats × interval + interval = ${suspectBound} ms,`),
    c.dim(`   recovered within one interval (${i} ms); connection reset: suspect within 200 ms, recovered within the window`));
  out.push('', code === 0
    ? c.green(`${ran.length === 1 ? 'The fault was' : `All ${ran.length} faults`} detected within bound${ran.length < faults.length ? ` (${faults.length - ran.length} skipped)` : ''}. Exit code 0.`)
    : c.red(`${missed.length} of ${plural(ran.length, 'fault')} missed the bound${falseLost.length ? `, ${falseLost.length} false loss(es)` : ''}. Exit code 1.`));
  process.stdout.write(`${out.join('\n')}\n`);

  // --- graceful teardown -------------------------------------------------------------------------
  await Promise.all([...peers.values()].map((p) => p.stop()));
  await server.stop();
  cable?.destroySync();
  process.stdout.write(`${c.dim(`Stopped the server and ${plural(peers.size, 'peer')}${cable ? `, removed namespace ${cable.namespace}` : ''}.`)}\n`);
  return code;
}

main().then((code) => process.exit(code), (error) => {
  ui.stop();
  process.stderr.write(`${error instanceof UsageError ? `${error.message}\n\n${HELP}` : `demo failed: ${(error as Error).stack ?? error}`}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
