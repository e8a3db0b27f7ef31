import type { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import * as messages from '../common/heartbeat.messages.js';
import type { ClusterPresenceEvent } from '../interfaces/cluster.interface.js';
import type { ResolvedClusterOptions } from '../options/resolve-cluster-options.js';
import { delay, waitForEvent } from './async-helpers.js';
import { decodeEntry, decodeReplica, decodeStreamEntry, type StreamRecord } from './cluster-codec.js';
import { runScript, SCRIPTS, type ClusterKeys } from './cluster-scripts.js';
import type { ClusterView, PeerEntry, ViewChange } from './cluster-view.js';
import type { ReplicaIdentity } from './replica-identity.js';

/** What the reader tells the service it belongs to. */
export interface ReaderHooks {
  /** The view changed: emit these. */
  changed(change: ViewChange): void;
  /** The set of replicas changed. */
  replicasChanged(): void;
  /** Our own lease is gone (our `reaped` entry, or a snapshot without us). */
  fenced(): void;
  /** Reading failed (why), or works again (undefined). */
  health(failure: string | undefined): void;
  /** Whether this replica holds a lease (a snapshot without it then means we were fenced). */
  registered(): boolean;
}

type SnapshotItem = [string, string | null | false, string[] | null | false];

/**
 * Reads everyone else's changes: a blocking XREAD on the capped stream from the last entry we
 * saw, each entry applied to the view, and a resync from an atomic snapshot at start and
 * whenever the stream may have a gap for us (the connection dropped and our last entry is gone).
 * Its own connection (blocking reads would hold up the lease's commands), never queueing while
 * disconnected: the loop notices the gap instead.
 */
export class ClusterReader {
  private lastId = '0-0';
  private resyncDue: string | undefined = 'startup';
  private failing = false;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly options: ResolvedClusterOptions,
    private readonly keys: ClusterKeys,
    private readonly identity: ReplicaIdentity,
    private readonly view: ClusterView,
    private readonly hooks: ReaderHooks,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {}

  /** True once the first snapshot is in. */
  get synced(): boolean {
    return this.resyncDue === undefined;
  }

  start(reader: Redis): void {
    reader.on('close', () => { this.resyncDue ??= 'reader reconnected'; });
    this.loop = this.run(reader);
  }

  /** Ends the loop (after the connection is closed, the blocked read returns). */
  stop(): Promise<void> {
    this.stopped = true;
    return this.loop ?? Promise.resolve();
  }

  private async run(reader: Redis): Promise<void> {
    const blockMs = Math.max(1000, this.options.leaseTtlMs);
    while (!this.stopped) {
      try {
        if (reader.status !== 'ready') {
          await waitForEvent(reader, 'ready', this.options.renewIntervalMs);
          continue;
        }
        if (this.resyncDue !== undefined) await this.resync(reader, this.resyncDue);
        this.recovered();
        const reply = await reader.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', this.keys.events, this.lastId) as
          Array<[string, Array<[string, string[]]>]> | null;
        this.recovered();
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            this.lastId = id;
            const sync = this.apply(id, fields);
            if (sync) await this.readTable(reader, sync);
          }
        }
      } catch (error) {
        if (this.stopped) break;
        if (!this.failing) {
          this.failing = true;
          this.hooks.health((error as Error).message);
        }
        this.resyncDue ??= 'reader reconnected';
        await delay(Math.min(200, this.options.renewIntervalMs));
      }
    }
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.hooks.health(undefined);
  }

  /** Applies one stream entry; returns the replica id whose whole table must be read (a `sync` entry). */
  private apply(id: string, fields: string[]): string | undefined {
    const record: StreamRecord | string = Array.isArray(fields) ? decodeStreamEntry(fields) : 'not a field list';
    if (typeof record === 'string') {
      this.logger.warn(messages.clusterBadData(`${this.keys.events} ${id}`, record));
      return undefined;
    }
    const now = this.now();
    const ours = this.identity.isOurs(record.kind === 'join' ? record.replica.id : record.replicaId);
    switch (record.kind) {
      case 'join':
        if (ours) return;
        this.view.upsertReplica(record.replica);
        this.hooks.replicasChanged();
        return;
      case 'peers': {
        if (ours) return;
        if (!this.view.hasReplica(record.replicaId)) {
          // Its `join` always comes first: this is someone else's data (or a replica already gone).
          this.logger.warn(messages.clusterBadData(`${this.keys.events} ${id}`, `changes from unregistered replica ${record.replicaId}`));
          return;
        }
        const events: ClusterPresenceEvent[] = [];
        for (const [peerId, entry] of record.changes) events.push(...this.view.setPeer(record.replicaId, peerId, entry, now));
        this.hooks.changed({ events, replicasLost: [] });
        return;
      }
      case 'sync':
        return ours || !this.view.hasReplica(record.replicaId) ? undefined : record.replicaId;
      case 'bye':
        if (ours) return;
        this.hooks.changed(this.view.removeReplica(record.replicaId, 'left', now));
        this.hooks.replicasChanged();
        return;
      case 'reaped':
        if (record.replicaId === this.identity.id) {
          this.hooks.fenced();
          return;
        }
        if (ours) return;
        this.hooks.changed(this.view.removeReplica(record.replicaId, 'reaped', now));
        this.hooks.replicasChanged();
        return;
    }
  }

  /** A replica (re)published its whole table: read it and reconcile. */
  private async readTable(reader: Redis, replicaId: string): Promise<void> {
    const key = `${this.keys.peersPrefix}${replicaId}`;
    let fields: Record<string, string>;
    try {
      fields = await reader.hgetall(key);
    } catch (error) {
      if (!String((error as Error).message).startsWith('WRONGTYPE')) throw error;
      this.logger.warn(messages.clusterBadData(key, 'not a hash'));
      return;
    }
    if (!this.view.hasReplica(replicaId)) return; // reaped or gone meanwhile
    this.hooks.changed({ events: this.view.replacePeers(replicaId, this.decodeTable(key, fields), this.now()), replicasLost: [] });
  }

  private decodeTable(key: string, fields: Record<string, string> | string[]): Map<string, PeerEntry> {
    const table = new Map<string, PeerEntry>();
    const pairs: Array<[string, string]> = Array.isArray(fields)
      ? Array.from({ length: Math.floor(fields.length / 2) }, (_, i) => [fields[2 * i], fields[2 * i + 1]])
      : Object.entries(fields);
    for (const [peerId, raw] of pairs) {
      const entry = decodeEntry(raw);
      if (entry) table.set(peerId, entry);
      else this.logger.warn(messages.clusterBadData(`${key} ${peerId}`, 'bad peer entry'));
    }
    return table;
  }

  /**
   * Reads the whole cluster state in one atomic cut and reconciles the view with it. At start,
   * and whenever the stream may have a gap for us (reader reconnected and our last entry is gone:
   * Redis restarted or trimmed past us). Replicas we knew that Redis no longer has are given a
   * lease's time to register again before their peers count as lost.
   */
  private async resync(reader: Redis, why: string): Promise<void> {
    if (why !== 'startup' && this.lastId !== '0-0') {
      const still = await reader.xrange(this.keys.events, this.lastId, this.lastId);
      if (still.length > 0) {
        this.resyncDue = undefined;
        return;
      }
    }
    const k = this.keys;
    const reply = await runScript(reader, SCRIPTS.snapshot, [k.leases, k.replicas, k.events], [k.peersPrefix]) as unknown[];
    const now = this.now();
    const [lastId, ...replicas] = reply as [string, ...SnapshotItem[]];
    const seen = new Set<string>();
    const events: ClusterPresenceEvent[] = [];
    let ourLease = false;
    for (const item of replicas) {
      if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
      const [id, raw, fields] = item;
      if (id === this.identity.id) ourLease = true;
      if (this.identity.isOurs(id)) continue;
      const record = raw ? decodeReplica(id, raw) : undefined;
      if (!record) this.logger.warn(messages.clusterBadData(`${k.replicas} ${id}`, 'no replica record'));
      seen.add(id);
      this.view.upsertReplica(record ?? { id, nodeId: id.split('/')[0], metadata: {}, startedAt: now });
      if (!Array.isArray(fields) && fields === false) this.logger.warn(messages.clusterBadData(`${k.peersPrefix}${id}`, 'not a hash'));
      const table = Array.isArray(fields) ? this.decodeTable(`${k.peersPrefix}${id}`, fields) : new Map<string, PeerEntry>();
      events.push(...this.view.replacePeers(id, table, now));
    }
    const missing = this.view.replicaInfos().filter((r) => !r.self && !seen.has(r.id)).map((r) => r.id);
    this.view.putOnProbation(missing, now);
    this.lastId = lastId || '0-0';
    this.resyncDue = undefined;
    if (why !== 'startup') this.logger.log(messages.clusterResync(why));
    if (!ourLease && this.hooks.registered() && why !== 'startup') this.hooks.fenced();
    this.hooks.changed({ events, replicasLost: [] });
    this.hooks.replicasChanged();
  }
}
