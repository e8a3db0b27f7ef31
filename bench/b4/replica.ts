/**
 * B4 replica: `node --import tsx bench/b4/replica.ts <json config>`. The real ClusterPresenceService
 * (src/cluster/) on a real Redis, fed by a simulated local peer table instead of sockets: 10,000
 * real links per replica would measure the link layer (B2's subject), not the cluster layer.
 * The feed is the seam ClusterPresenceService reads (events$ + peers()), with the same events a
 * PresenceService emits.
 * Commands: add {prefix, count} · churn {perSecond, ms} · probe {id} · stats · heap (after a full GC:
 * run with --expose-gc).
 * Emits @@{evt:'seen', id, t} when a cluster `joined` for a `probe-*` peer arrives; `stats` counts
 * replica-lost losses (first/last at epoch ms, sub-ms).
 */
import { performance } from 'node:perf_hooks';
import { NEVER, Subject } from 'rxjs';
import { ClusterPresenceService } from '../../src/cluster/cluster-presence.service.js';
import { resolveClusterOptions } from '../../src/options/resolve-cluster-options.js';
import type { PeerInfo, PresenceEvent } from '../../src/interfaces/presence.interface.js';
import { emit, serveCommands } from '../lib/proc.js';

const config = JSON.parse(process.argv[2]) as { nodeId: string; redis: string; namespace: string; leaseTtlMs: number; renewIntervalMs: number };
const nowMs = () => performance.timeOrigin + performance.now();

const table = new Map<string, PeerInfo>();
const events = new Subject<PresenceEvent>();
const local = { events$: events.asObservable(), shuttingDown$: NEVER, peers: () => [...table.values()] };
const cluster = new ClusterPresenceService(resolveClusterOptions({ redis: config.redis, namespace: config.namespace,
  leaseTtlMs: config.leaseTtlMs, renewIntervalMs: config.renewIntervalMs })!, local, config.nodeId, { bench: 'b4' });

let serial = 0;
function peer(id: string): PeerInfo {
  const t = Date.now();
  return {
    id, status: 'alive', direction: 'inbound', managed: true, address: `127.0.0.1:${20000 + (serial++ % 40000)}`,
    metadata: { service: 'orders' }, connectedAt: t, lastSeenAt: t,
    stats: { pingsSent: 0, pongsReceived: 0, suspectCount: 0, reconnects: 0, controlBytesSent: 0, controlBytesReceived: 0 },
  };
}
function join(id: string): void {
  const p = peer(id);
  table.set(id, p);
  events.next({ type: 'joined', peer: p, at: Date.now() });
}
function lose(id: string): void {
  const p = table.get(id);
  if (!p) return;
  table.delete(id);
  events.next({ type: 'lost', peer: { ...p, status: 'lost' }, reason: 'heartbeat-timeout', at: Date.now() });
}

let lost = 0;
let firstLost = 0;
let lastLost = 0;
/** Peers live in the merged view, counted from its events: `stats` must not build 100,000 snapshots to count them. */
const live = new Set<string>();
cluster.events$.subscribe((e) => {
  if (e.type === 'joined') live.add(e.peer.id);
  else live.delete(e.peer.id);
  if (e.type === 'joined' && e.peer.id.startsWith('probe-')) emit({ evt: 'seen', id: e.peer.id, t: nowMs() });
  if (e.type === 'lost' && e.reason === 'replica-lost') {
    lost++;
    lastLost = nowMs();
    if (lost === 1) firstLost = lastLost;
  }
});

await cluster.onApplicationBootstrap();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

serveCommands(async (cmd) => {
  switch (cmd.cmd) {
    case 'add': {
      for (let i = 0; i < cmd.count; i++) {
        join(`${cmd.prefix}-${i}`);
        if (i % 500 === 499) await sleep(1); // let the publisher drain, as real joins would arrive over time
      }
      return { peers: table.size };
    }
    case 'churn': {
      // Each change: one peer lost, or a lost one back; paced evenly.
      const ids = [...table.keys()].filter((id) => !id.startsWith('probe-'));
      const gone: string[] = [];
      const every = 1000 / cmd.perSecond;
      const until = Date.now() + cmd.ms;
      let changes = 0;
      let next = Date.now();
      while (Date.now() < until) {
        if (gone.length > 0 && (changes % 2 === 1)) join(gone.shift()!);
        else {
          const id = ids[Math.floor(Math.random() * ids.length)];
          if (table.has(id)) { lose(id); gone.push(id); }
        }
        changes++;
        next += every;
        await sleep(Math.max(0, next - Date.now()));
      }
      for (const id of gone) join(id);
      return { changes };
    }
    case 'probe': {
      const t = nowMs();
      join(cmd.peerId);
      return { t };
    }
    case 'stats': {
      const cpu = process.cpuUsage();
      return {
        peers: live.size, replicas: cluster.replicas().length, local: table.size, replicaId: cluster.replicaId, lost, firstLost, lastLost,
        cpuMs: (cpu.user + cpu.system) / 1000,
      };
    }
    case 'heap': {
      for (let i = 0; i < 2; i++) (globalThis as { gc?: () => void }).gc?.();
      return { heapUsed: process.memoryUsage().heapUsed, rss: process.memoryUsage().rss };
    }
    default:
      throw new Error(`unknown command ${cmd.cmd}`);
  }
}, () => cluster.beforeApplicationShutdown());

emit({ evt: 'ready', replicaId: cluster.replicaId });
