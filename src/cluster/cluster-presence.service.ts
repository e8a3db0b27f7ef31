import { Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  auditTime, BehaviorSubject, defer, distinctUntilChanged, map, merge, of, Subject, type Observable, type Subscription,
} from 'rxjs';
import * as messages from '../common/heartbeat.messages.js';
import type {
  ClusterPeerInfo, ClusterPresence, ClusterPresenceEvent, ClusterStatus, ReplicaInfo, ReplicaLostEvent,
} from '../interfaces/cluster.interface.js';
import type { PeerInfo, PresenceEvent } from '../interfaces/presence.interface.js';
import {
  decodeEntry, decodeReplica, decodeStreamEntry, encodeEntry, encodeReplica, entryFromEvent, entryFromPeer,
  toWire, type ReplicaRecord, type StreamRecord,
} from './cluster-codec.js';
import type { ResolvedClusterOptions } from '../options/resolved-options.js';
import * as scripts from './cluster-scripts.js';
import { ClusterView, type PeerEntry, type ViewChange } from './cluster-view.js';
import { connectRedis, type RedisConnections } from './redis-client.js';

/**
 * What cluster presence needs from the local peer table: its events and its current peers.
 * PresenceService is one; anything that can say who is connected here can feed it.
 */
export interface LocalPresence {
  readonly events$: Observable<PresenceEvent>;
  peers(): PeerInfo[];
}

/** Stream entries kept (MAXLEN ~). A reader further behind than this resynchronises from a snapshot. */
export const STREAM_MAX_ENTRIES = 1000;
/** Peer changes per stream entry (and per publish command). */
const BATCH = 200;
const COALESCE_MS = 10;

interface Script { sha: string; body: string }
const script = (body: string): Script => ({ body, sha: createHash('sha1').update(body).digest('hex') });
const SCRIPTS = {
  register: script(scripts.REGISTER), renew: script(scripts.RENEW), publish: script(scripts.PUBLISH),
  leave: script(scripts.LEAVE), snapshot: script(scripts.SNAPSHOT),
};

const newIncarnation = (nodeId: string) => `${nodeId}/${randomBytes(4).toString('hex')}`;

/**
 * Cluster presence on Redis (see docs/CLUSTER.md). Every replica holds a lease, writes only its
 * own peer table, publishes its transitions on a capped stream and reads everyone else's from
 * it; the merged view and its events come from ClusterView. Redis going away freezes the view
 * (status `degraded`), never empties it.
 */
export class ClusterPresenceService implements ClusterPresence, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('ClusterPresence');
  private readonly view: ClusterView;
  private readonly keys: { leases: string; replicas: string; events: string; peersPrefix: string };
  private readonly ids = new Set<string>();
  private self: ReplicaRecord;

  private readonly events = new Subject<ClusterPresenceEvent>();
  private readonly lostReplicas = new Subject<ReplicaLostEvent>();
  private readonly peerChanges = new Subject<void>();
  private readonly replicaChanges = new Subject<void>();
  private readonly status = new BehaviorSubject<ClusterStatus>('degraded');

  readonly events$: Observable<ClusterPresenceEvent> = this.events.asObservable();
  readonly replicaLost$: Observable<ReplicaLostEvent> = this.lostReplicas.asObservable();
  readonly peers$: Observable<ClusterPeerInfo[]> = defer(() =>
    merge(of(undefined), this.peerChanges.pipe(auditTime(COALESCE_MS)))).pipe(map(() => this.peers()));
  readonly replicas$: Observable<ReplicaInfo[]> = defer(() =>
    merge(of(undefined), this.replicaChanges.pipe(auditTime(COALESCE_MS)))).pipe(map(() => this.replicas()));
  readonly status$: Observable<ClusterStatus> = this.status.pipe(distinctUntilChanged());

  private redis?: RedisConnections;
  private subscription?: Subscription;
  private stopped = false;
  private registered = false;
  private fullPublishDue = true;
  private readonly dirty = new Map<string, PeerEntry>();
  private flushTimer?: NodeJS.Timeout;
  private publishing = false;
  private renewTimer?: NodeJS.Timeout;
  private reapTimer?: NodeJS.Timeout;
  private tickTimer?: NodeJS.Timeout;
  private renewStartedAt?: number;
  private renewFailing?: string;
  private readerFailing?: string;
  private lastId = '0-0';
  private resyncDue: string | undefined = 'startup';
  private readerLoop?: Promise<void>;

  constructor(
    private readonly options: ResolvedClusterOptions,
    private readonly local: LocalPresence,
    nodeId: string,
    metadata: Record<string, string>,
    private readonly now: () => number = Date.now,
  ) {
    const tag = `{${options.namespace}}`;
    this.keys = { leases: `${tag}:leases`, replicas: `${tag}:replicas`, events: `${tag}:events`, peersPrefix: `${tag}:peers:` };
    this.self = { id: newIncarnation(nodeId), nodeId, metadata: { ...metadata }, startedAt: this.now() };
    this.ids.add(this.self.id);
    this.view = new ClusterView(this.self, {
      hopGraceMs: options.leaseTtlMs, probationMs: options.leaseTtlMs + options.renewIntervalMs, retentionMs: 60_000,
    });
  }

  /** This replica's id (`nodeId/incarnation`). */
  get replicaId(): string {
    return this.self.id;
  }

  peers(): ClusterPeerInfo[] {
    return this.view.peers();
  }

  get(peerId: string): ClusterPeerInfo | undefined {
    return this.view.get(peerId);
  }

  isAlive(peerId: string): boolean {
    return this.view.isAlive(peerId);
  }

  replicas(): ReplicaInfo[] {
    return this.view.replicaInfos();
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  /** Connects and takes the first snapshot; if Redis is not there within min(lease, 3 s), starts degraded and keeps trying. */
  async onApplicationBootstrap(): Promise<void> {
    this.redis = await connectRedis(this.options.redis, this.options.renewIntervalMs);
    this.redis.client.on('error', () => undefined); // reported through status$, not as unhandled errors
    this.redis.reader.on('error', () => undefined);
    this.redis.reader.on('close', () => { this.resyncDue ??= 'reader reconnected'; });
    this.subscription = this.local.events$.subscribe((e) => this.onLocalEvent(e));
    for (const peer of this.local.peers()) {
      if (peer.status === 'alive' || peer.status === 'suspect') this.applyChange({ events: this.view.setPeer(this.self.id, peer.id, entryFromPeer(peer, peer.status, peer.connectedAt), this.now()), replicasLost: [] });
    }
    const firstRenew = this.renew();
    this.renewTimer = setInterval(() => void this.renew(), this.options.renewIntervalMs);
    this.tickTimer = setInterval(() => this.applyChange(this.view.tick(this.now())), Math.min(100, this.options.renewIntervalMs));
    this.readerLoop = this.readLoop();
    await Promise.race([firstRenew.then(() => this.waitFor(() => this.resyncDue === undefined)), delay(Math.min(this.options.leaseTtlMs, 3000))]);
  }

  /** Graceful shutdown: the others see this replica's peers `left` at once. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.subscription?.unsubscribe();
    clearInterval(this.renewTimer);
    clearTimeout(this.reapTimer);
    clearInterval(this.tickTimer);
    clearTimeout(this.flushTimer);
    const redis = this.redis;
    if (redis) {
      if (this.registered) {
        const k = this.keys;
        await withTimeout(this.call(SCRIPTS.leave, [k.leases, k.replicas, `${k.peersPrefix}${this.self.id}`, k.events], [this.self.id, STREAM_MAX_ENTRIES]), 1000)
          .catch(() => undefined);
      }
      redis.reader.disconnect();
      if (redis.ownsClient) await withTimeout(redis.client.quit(), 1000).catch(() => redis.client.disconnect());
    }
    await withTimeout(this.readerLoop ?? Promise.resolve(), 1000).catch(() => undefined);
    this.events.complete();
    this.lostReplicas.complete();
    this.peerChanges.complete();
    this.replicaChanges.complete();
    this.status.complete();
  }

  // ---- local side -----------------------------------------------------------------------------

  private onLocalEvent(event: PresenceEvent): void {
    const entry = entryFromEvent(event);
    this.applyChange({ events: this.view.setPeer(this.self.id, event.peer.id, entry, this.now()), replicasLost: [] });
    this.dirty.set(event.peer.id, entry);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, 0);
  }

  /** Writes this replica's pending changes (or its whole table after a (re)registration). Single flight. */
  private async flush(): Promise<void> {
    if (this.publishing || !this.registered || this.stopped) return;
    this.publishing = true;
    let changes: Array<[string, PeerEntry]>;
    const full = this.fullPublishDue;
    if (full) {
      this.fullPublishDue = false;
      this.dirty.clear();
      changes = [...(this.view.entriesOf(this.self.id) ?? new Map())].filter(([, e]) => e.status === 'alive' || e.status === 'suspect');
    } else {
      changes = [...this.dirty];
      this.dirty.clear();
    }
    try {
      const k = this.keys;
      const chunks = Math.max(1, Math.ceil(changes.length / BATCH));
      for (let c = 0; c < chunks; c++) {
        const chunk = changes.slice(c * BATCH, (c + 1) * BATCH);
        if (chunk.length === 0 && !full) break;
        const first = c === 0;
        const last = c === chunks - 1;
        const mode = !full ? 'peers' : first && last ? 'reset-sync' : first ? 'reset' : last ? 'sync' : 'more';
        const payload = mode === 'peers' ? JSON.stringify(chunk.map(([id, e]) => [id, toWire(e)])) : '';
        const args: Array<string | number> = [this.self.id, STREAM_MAX_ENTRIES, mode, payload];
        for (const [id, e] of chunk) args.push(id, e.status === 'alive' || e.status === 'suspect' ? encodeEntry(e) : '');
        const ok = await this.call(SCRIPTS.publish, [k.leases, `${k.peersPrefix}${this.self.id}`, k.events], args);
        if (ok === 0) {
          this.fenced();
          break;
        }
      }
    } catch (error) {
      // Keep what did not make it, unless a newer change of the same peer is already queued.
      for (const [id, e] of changes) if (!this.dirty.has(id)) this.dirty.set(id, e);
      this.renewFailing ??= (error as Error).message;
      this.updateStatus();
    } finally {
      this.publishing = false;
    }
    if ((this.dirty.size > 0 || this.fullPublishDue) && this.registered && this.renewFailing === undefined) {
      this.flushTimer ??= setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, 0);
    }
  }

  // ---- lease ----------------------------------------------------------------------------------

  /** Registers, or renews the lease and reaps expired ones. Single flight; a renew stuck in Redis makes us degraded. */
  private async renew(): Promise<void> {
    if (this.stopped) return;
    if (this.renewStartedAt !== undefined) {
      const stuckMs = this.now() - this.renewStartedAt;
      if (stuckMs >= this.degradedAfterMs() && this.renewFailing === undefined) {
        this.renewFailing = `no answer for ${stuckMs} ms`;
        this.updateStatus();
      }
      return;
    }
    this.renewStartedAt = this.now();
    const k = this.keys;
    try {
      if (!this.registered) {
        await this.call(SCRIPTS.register, [k.leases, k.replicas, k.events],
          [this.self.id, this.options.leaseTtlMs, encodeReplica(this.self), STREAM_MAX_ENTRIES]);
        this.registered = true;
        this.fullPublishDue = true;
      } else {
        const [ok, redisNow, , , nextDeadline] = await this.call(SCRIPTS.renew, [k.leases, k.replicas, k.events], [
          this.self.id, this.options.leaseTtlMs, this.stallMs(), STREAM_MAX_ENTRIES, k.peersPrefix,
        ]) as number[];
        if (ok === 0) {
          this.fenced();
          this.renewStartedAt = undefined;
          return this.renew();
        }
        this.scheduleReap(nextDeadline, redisNow);
      }
      if (this.renewFailing !== undefined) this.renewFailing = undefined;
      this.updateStatus();
      if (this.dirty.size > 0 || this.fullPublishDue) void this.flush();
    } catch (error) {
      this.renewFailing = (error as Error).message;
      this.updateStatus();
    } finally {
      this.renewStartedAt = undefined;
    }
  }

  /** Comes back when another replica's lease ends before our next renewal (Redis time → our timers). */
  private scheduleReap(nextDeadline: number | undefined, redisNow: number): void {
    if (nextDeadline === undefined || nextDeadline < 0 || this.stopped) return;
    const inMs = nextDeadline - redisNow + 1;
    if (inMs >= this.options.renewIntervalMs) return;
    clearTimeout(this.reapTimer);
    this.reapTimer = setTimeout(() => void this.renew(), Math.max(0, inMs));
  }

  /** Our lease is gone (reaped while we were paused or cut off, or Redis lost it): come back as a new incarnation. */
  private fenced(): void {
    if (!this.registered) return;
    const old = this.self.id;
    this.self = { ...this.self, id: newIncarnation(this.self.nodeId) };
    this.ids.add(this.self.id);
    this.view.rekeySelf(this.self);
    this.registered = false;
    this.fullPublishDue = true;
    this.logger.warn(messages.clusterFenced(old, this.self.id));
    this.replicaChanges.next();
    if (this.renewStartedAt === undefined) void this.renew();
  }

  /**
   * A gap in renewals longer than this means Redis (or every replica's path to it) stalled, not
   * that replicas died: leases are refreshed instead of reaped. A healthy cluster renews every
   * renewIntervalMs; a lease cannot expire from a gap shorter than leaseTtlMs - renewIntervalMs.
   */
  private stallMs(): number {
    const { leaseTtlMs, renewIntervalMs } = this.options;
    return Math.max(2 * renewIntervalMs, leaseTtlMs - 2 * renewIntervalMs);
  }

  private degradedAfterMs(): number {
    return Math.max(this.options.renewIntervalMs, 1000);
  }

  // ---- remote side ----------------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    const reader = this.redis!.reader;
    const blockMs = Math.max(1000, this.options.leaseTtlMs);
    while (!this.stopped) {
      try {
        if (reader.status !== 'ready') {
          await waitForEvent(reader, 'ready', this.options.renewIntervalMs);
          continue;
        }
        if (this.resyncDue !== undefined) await this.resync(this.resyncDue);
        if (this.readerFailing !== undefined) {
          this.readerFailing = undefined;
          this.updateStatus();
        }
        const reply = await reader.xread('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', this.keys.events, this.lastId) as
          Array<[string, Array<[string, string[]]>]> | null;
        if (this.readerFailing !== undefined) {
          this.readerFailing = undefined;
          this.updateStatus();
        }
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            this.lastId = id;
            const sync = this.applyRecord(id, fields);
            if (sync) await this.readTable(sync);
          }
        }
      } catch (error) {
        if (this.stopped) break;
        if (this.readerFailing === undefined) {
          this.readerFailing = (error as Error).message;
          this.updateStatus();
        }
        this.resyncDue ??= 'reader reconnected';
        await delay(Math.min(200, this.options.renewIntervalMs));
      }
    }
  }

  /** Applies one stream entry; returns the replica id whose whole table must be read (a `sync` entry). */
  private applyRecord(id: string, fields: string[]): string | undefined {
    const record: StreamRecord | string = Array.isArray(fields) ? decodeStreamEntry(fields) : 'not a field list';
    if (typeof record === 'string') {
      this.logger.warn(messages.clusterBadData(`${this.keys.events} ${id}`, record));
      return undefined;
    }
    const now = this.now();
    switch (record.kind) {
      case 'join':
        if (this.ids.has(record.replica.id)) return;
        this.view.upsertReplica(record.replica);
        this.replicaChanges.next();
        return;
      case 'peers': {
        if (this.ids.has(record.replicaId)) return;
        if (!this.view.hasReplica(record.replicaId)) {
          // Its `join` always comes first: this is someone else's data (or a replica already gone).
          this.logger.warn(messages.clusterBadData(`${this.keys.events} ${id}`, `changes from unregistered replica ${record.replicaId}`));
          return;
        }
        const events: ClusterPresenceEvent[] = [];
        for (const [peerId, entry] of record.changes) events.push(...this.view.setPeer(record.replicaId, peerId, entry, now));
        this.applyChange({ events, replicasLost: [] });
        return;
      }
      case 'sync':
        return this.ids.has(record.replicaId) || !this.view.hasReplica(record.replicaId) ? undefined : record.replicaId;
      case 'bye':
        if (this.ids.has(record.replicaId)) return;
        this.applyChange(this.view.removeReplica(record.replicaId, 'left', now));
        this.replicaChanges.next();
        return;
      case 'reaped':
        if (record.replicaId === this.self.id) {
          this.fenced();
          return;
        }
        if (this.ids.has(record.replicaId)) return;
        this.applyChange(this.view.removeReplica(record.replicaId, 'reaped', now));
        this.replicaChanges.next();
        return;
    }
  }

  /** A replica (re)published its whole table: read it and reconcile. */
  private async readTable(replicaId: string): Promise<void> {
    const key = `${this.keys.peersPrefix}${replicaId}`;
    let fields: Record<string, string>;
    try {
      fields = await this.redis!.reader.hgetall(key);
    } catch (error) {
      if (!String((error as Error).message).startsWith('WRONGTYPE')) throw error;
      this.logger.warn(messages.clusterBadData(key, 'not a hash'));
      return;
    }
    if (!this.view.hasReplica(replicaId)) return; // reaped or gone meanwhile
    this.applyChange({ events: this.view.replacePeers(replicaId, this.decodeTable(key, fields), this.now()), replicasLost: [] });
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
  private async resync(why: string): Promise<void> {
    const redis = this.redis!;
    if (why !== 'startup' && this.lastId !== '0-0') {
      const still = await redis.reader.xrange(this.keys.events, this.lastId, this.lastId);
      if (still.length > 0) {
        this.resyncDue = undefined;
        return;
      }
    }
    const k = this.keys;
    const reply = await this.call(SCRIPTS.snapshot, [k.leases, k.replicas, k.events], [k.peersPrefix], redis.reader) as unknown[];
    const now = this.now();
    const [lastId, ...replicas] = reply as [string, ...Array<[string, string | null | false, string[] | null | false]>];
    const seen = new Set<string>();
    const events: ClusterPresenceEvent[] = [];
    let ourLease = false;
    for (const item of replicas) {
      if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
      const [id, raw, fields] = item;
      if (id === this.self.id) ourLease = true;
      if (this.ids.has(id)) continue;
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
    if (!ourLease && this.registered && why !== 'startup') this.fenced();
    this.applyChange({ events, replicasLost: [] });
    this.replicaChanges.next();
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private applyChange(change: ViewChange): void {
    for (const lost of change.replicasLost) {
      this.logger.warn(messages.clusterReplicaLost(lost.replica.id, lost.peerIds.length));
      this.lostReplicas.next({ type: 'replica-lost', replica: lost.replica, peerIds: lost.peerIds, at: Math.round(this.now()) });
    }
    if (change.replicasLost.length > 0) this.replicaChanges.next();
    for (const event of change.events) this.events.next(event);
    if (change.events.length > 0) this.peerChanges.next();
  }

  private updateStatus(): void {
    const next: ClusterStatus = this.registered && this.renewFailing === undefined && this.readerFailing === undefined ? 'connected' : 'degraded';
    const previous = this.status.value;
    if (next === previous || this.stopped) return;
    if (next === 'degraded') this.logger.warn(messages.clusterDegraded(this.renewFailing ?? this.readerFailing ?? 'not registered'));
    else this.logger.log(messages.clusterConnected(this.self.id));
    this.status.next(next);
  }

  private async call(s: Script, keys: string[], args: Array<string | number>, client: Redis = this.redis!.client): Promise<unknown> {
    try {
      return await client.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return client.eval(s.body, keys.length, ...keys, ...args);
    }
  }

  private async waitFor(condition: () => boolean): Promise<void> {
    while (!condition() && !this.stopped) await delay(10);
  }
}

function waitForEvent(emitter: { once(e: string, f: () => void): unknown; off(e: string, f: () => void): unknown }, event: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      emitter.off(event, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    emitter.once(event, done);
  });
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref?.());

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); }),
  ]);
}
