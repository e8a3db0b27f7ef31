import type { Logger } from '@nestjs/common';
import * as messages from '../common/heartbeat.messages.js';
import type { ClusterPresenceEvent } from '../interfaces/cluster.interface.js';
import type { ResolvedClusterOptions } from '../options/resolved-options.js';
import { delay, waitForEvent } from './async-helpers.js';
import { decodeEntry, decodeReplica, decodeStreamEntry, type StreamRecord } from './cluster-codec.js';
import { runScript, SCRIPTS, type ClusterKeys } from './cluster-scripts.js';
import type { ClusterView, PeerEntry, ViewChange } from './cluster-view.js';
import type { RedisLink } from './redis-client.js';
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
  /** A snapshot is in (the first one at boot, then after each resync). */
  synced(): void;
}

/**
 * Entries per read. A `peers` entry carries up to 200 changes (~18 KB): 1,000 of them made 18 MB
 * replies for Redis to buffer and for us to parse in one go while 10 replicas joined 10,000 peers
 * each (B4 at scale); 100 keep a reply under 2 MB and cost nothing when entries are small.
 */
const READ_COUNT = 100;

/** id, lease deadline (Redis ms), record, table; record and table are false for an expired lease. */
type SnapshotItem = [string, number, string | null | false, string[] | null | false];

/**
 * Reads everyone else's changes: a blocking XREAD on the capped stream from the last entry we
 * saw, each entry applied to the view, and a resync from an atomic snapshot at start and
 * whenever the stream has a gap for us. Entries are numbered (the seq key), so a gap shows while
 * connected, at the first entry read after it: a number out of turn means entries were trimmed
 * before we read them (we fell behind the cap) or the stream was reset (FLUSHALL, DEL,
 * eviction, a failover that lost writes). Its own connection (blocking reads would hold up the
 * lease's commands), never queueing while disconnected: the loop notices the gap instead.
 */
export class ClusterReader {
  private lastId = '0-0';
  /** Number of the last entry read (or of the snapshot's cut); undefined until one is known. */
  private lastSeq?: number;
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

  start(reader: RedisLink): void {
    reader.on('close', () => { this.resyncDue ??= 'reader reconnected'; });
    this.loop = this.run(reader);
  }

  /** Takes a snapshot before reading on (our lease was gone: Redis may have forgotten everything). */
  requestResync(why: string): void {
    this.resyncDue ??= why;
  }

  /** Ends the loop (after the connection is closed, the blocked read returns). */
  stop(): Promise<void> {
    this.stopped = true;
    return this.loop ?? Promise.resolve();
  }

  private async run(reader: RedisLink): Promise<void> {
    const blockMs = Math.max(1000, this.options.leaseTtlMs);
    while (!this.stopped) {
      try {
        if (reader.status !== 'ready') {
          await waitForEvent(reader, 'ready', this.options.renewIntervalMs);
          continue;
        }
        if (this.resyncDue !== undefined) await this.resync(reader, this.resyncDue);
        this.recovered();
        const reply = await reader.xread('COUNT', READ_COUNT, 'BLOCK', blockMs, 'STREAMS', this.keys.events, this.lastId) as
          Array<[string, Array<[string, string[]]>]> | null;
        this.recovered();
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            const record: StreamRecord | string = Array.isArray(fields) ? decodeStreamEntry(fields) : 'not a field list';
            if (typeof record !== 'string' && !this.inTurn(record)) break;
            this.lastId = id;
            const sync = this.apply(id, record);
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

  /** Whether the entry is the next one; if not, a resync is due (and the entry is read again after it, from the snapshot's cut). */
  private inTurn(record: StreamRecord): boolean {
    if (record.seq === undefined) return true; // written by a version without numbers
    const expected = this.lastSeq === undefined ? record.seq : this.lastSeq + 1;
    if (record.seq === expected) {
      this.lastSeq = record.seq;
      return true;
    }
    this.resyncDue = record.seq < expected ? 'the stream was reset' : `${record.seq - expected} stream entries were trimmed before we read them`;
    return false;
  }

  /** Applies one stream entry; returns the replica id whose whole table must be read (a `sync` entry). */
  private apply(id: string, record: StreamRecord | string): string | undefined {
    if (typeof record === 'string') {
      this.logger.warn(messages.clusterBadData(`${this.keys.events} ${id}`, record));
      return undefined;
    }
    const now = this.now();
    const ours = this.identity.isOurs(record.kind === 'join' ? record.replica.id : record.replicaId);
    switch (record.kind) {
      case 'join':
        if (ours) return;
        if (record.previousId !== undefined) this.hooks.changed({ events: this.view.supersede(record.previousId, record.replica, now), replicasLost: [] });
        else this.view.upsertReplica(record.replica);
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
      case 'refresh':
        // Leases were refreshed after a stall: replicas a snapshot found expired meanwhile are alive after all.
        this.resyncDue ??= 'leases refreshed after a stall of Redis';
        return;
    }
  }

  /** A replica (re)published its whole table: read it and reconcile. */
  private async readTable(reader: RedisLink, replicaId: string): Promise<void> {
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
   * and whenever the stream has a gap for us. A replica whose lease has run out is not taken
   * in: if we did not know it, its peers are never shown (the first replica back after a full
   * outage shows no dead replica's peers); if we did, it is frozen as we knew it and, like a
   * replica Redis no longer has at all, given probationMs to show up again before its peers
   * count as lost.
   */
  private async resync(reader: RedisLink, why: string): Promise<void> {
    if (why === 'reader reconnected' && this.lastId !== '0-0') {
      const still = await reader.xrange(this.keys.events, this.lastId, this.lastId);
      if (still.length > 0) {
        this.resyncDue = undefined;
        return;
      }
    }
    const k = this.keys;
    const reply = await runScript(reader, SCRIPTS.snapshot, [k.leases, k.replicas, k.events, k.seq], [k.peersPrefix]) as unknown[];
    const now = this.now();
    const [lastId, seq, redisNow, ...replicas] = reply as [string, string, number, ...SnapshotItem[]];
    const seen = new Set<string>();
    const events: ClusterPresenceEvent[] = [];
    let ourLease = false;
    for (const item of replicas) {
      if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
      const [id, deadline, raw, fields] = item;
      if (id === this.identity.id) ourLease = true;
      if (this.identity.isOurs(id) || Number(deadline) < Number(redisNow)) continue;
      const decoded = raw ? decodeReplica(id, raw) : undefined;
      if (!decoded) this.logger.warn(messages.clusterBadData(`${k.replicas} ${id}`, 'no replica record'));
      const { previousId, ...record } = decoded ?? { id, nodeId: id.split('/')[0], metadata: {}, startedAt: now };
      seen.add(id);
      if (previousId !== undefined && !this.identity.isOurs(previousId)) events.push(...this.view.supersede(previousId, record, now));
      else this.view.upsertReplica(record);
      if (!Array.isArray(fields) && fields === false) this.logger.warn(messages.clusterBadData(`${k.peersPrefix}${id}`, 'not a hash'));
      const table = Array.isArray(fields) ? this.decodeTable(`${k.peersPrefix}${id}`, fields) : new Map<string, PeerEntry>();
      events.push(...this.view.replacePeers(id, table, now));
    }
    const missing = this.view.replicaInfos().filter((r) => !r.self && !seen.has(r.id)).map((r) => r.id);
    this.view.putOnProbation(missing, now);
    this.lastId = lastId || '0-0';
    this.lastSeq = Number(seq) || 0;
    this.resyncDue = undefined;
    if (why !== 'startup') this.logger.log(messages.clusterResync(why));
    if (!ourLease && this.hooks.registered() && why !== 'startup') this.hooks.fenced();
    this.hooks.changed({ events, replicasLost: [] });
    this.hooks.replicasChanged();
    this.hooks.synced();
  }
}
