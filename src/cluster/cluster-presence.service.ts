import { Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import {
  auditTime, BehaviorSubject, defer, distinctUntilChanged, map, merge, of, Subject, type Observable, type Subscription,
} from 'rxjs';
import * as messages from '../common/heartbeat.messages.js';
import type {
  ClusterPeerInfo, ClusterPresence, ClusterPresenceEvent, ClusterStatus, ReplicaInfo, ReplicaLostEvent,
} from '../interfaces/cluster.interface.js';
import type { PeerInfo, PresenceEvent } from '../interfaces/presence.interface.js';
import { DEFAULT_CLUSTER_NAMESPACE } from '../common/heartbeat.constants.js';
import type { ResolvedClusterOptions } from '../options/resolved-options.js';
import { delay, withTimeout } from './async-helpers.js';
import { entryFromEvent, entryFromPeer } from './cluster-codec.js';
import { ClusterLease, keyTtlMs } from './cluster-lease.js';
import { ClusterPublisher } from './cluster-publisher.js';
import { ClusterReader } from './cluster-reader.js';
import { clusterKeys, runScript, SCRIPTS, type ClusterKeys } from './cluster-scripts.js';
import { nextClusterState, STARTING, statusOf, STOPPED, type ClusterHealth, type ClusterState } from './cluster-state.js';
import { ClusterView, type ViewChange } from './cluster-view.js';
import { connectRedis, describeRedis, type RedisConnections } from './redis-client.js';
import { ReplicaIdentity } from './replica-identity.js';

export { STREAM_MAX_ENTRIES } from './cluster-lease.js';

/**
 * What cluster presence needs from the local peer table: its events and its current peers.
 * PresenceService is one; anything that can say who is connected here can feed it.
 */
export interface LocalPresence {
  readonly events$: Observable<PresenceEvent>;
  /** Our server began a graceful stop (see PeerTable.shuttingDown$). */
  readonly shuttingDown$: Observable<void>;
  peers(): PeerInfo[];
}

const COALESCE_MS = 10;

/**
 * At most this long a boot waits for Redis's first answer (the registration and the first
 * snapshot, so that the view is whole when the app starts serving). A refused connection ends
 * the wait at once; a Redis that does not answer at all (a black-holed address) costs this.
 */
const BOOT_WAIT_MS = 1000;

/**
 * Cluster presence on Redis (see docs/CLUSTER.md), composed of parts with one job each: the
 * lease (register, renew, fencing, stall guard), the publisher (this replica's table, batched),
 * the reader (everyone else's changes from the stream, gaps, resync) and the view (ClusterView:
 * the merge and its events, pure). This class wires them to the local table and to Nest's
 * lifecycle, and holds the one state they report into. Redis going away freezes the view
 * (status `degraded`), never empties it.
 *
 * Shutdown is a hand-over: from `onModuleDestroy` on, this replica publishes no local change
 * (the goodbyes its server and clients are about to say are its own departure, not its peers'),
 * and `beforeApplicationShutdown` removes its lease, table and record with one `bye`: the other
 * replicas hold its peers `suspect` for leaseTtlMs while they reconnect elsewhere.
 */
export class ClusterPresenceService implements ClusterPresence, OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger('ClusterPresence');
  private readonly keys: ClusterKeys;
  private readonly identity: ReplicaIdentity;
  private readonly view: ClusterView;
  private readonly lease: ClusterLease;
  private readonly publisher: ClusterPublisher;
  private readonly reader: ClusterReader;

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

  private state: ClusterState = STARTING;
  private readonly health: ClusterHealth = { registered: false };
  private redis?: RedisConnections;
  private subscription?: Subscription;
  private tickTimer?: NodeJS.Timeout;
  /** Ends the boot's wait for Redis: set while it waits. */
  private bootAnswered?: () => void;
  /** The first snapshot is in: resolved by the reader's first sync. */
  private readonly firstSync: Promise<void>;
  private firstSynced?: () => void;
  private readonlyWarned = false;

  constructor(
    private readonly options: ResolvedClusterOptions,
    private readonly local: LocalPresence,
    nodeId: string,
    metadata: Record<string, string>,
    private readonly now: () => number = Date.now,
  ) {
    this.firstSync = new Promise((resolve) => { this.firstSynced = resolve; });
    this.keys = clusterKeys(options.namespace);
    this.identity = new ReplicaIdentity(nodeId, metadata, this.now());
    this.view = new ClusterView(this.identity.record, {
      hopGraceMs: options.leaseTtlMs, probationMs: options.leaseTtlMs + options.renewIntervalMs, retentionMs: 60_000,
    });
    const client = () => this.redis!.client;
    this.lease = new ClusterLease(options, this.keys, this.identity, client, {
      registered: () => {
        this.health.registered = true;
        this.publisher.republish();
      },
      renewed: () => {
        this.health.writeFailure = undefined;
        this.updateState();
        this.publisher.resume();
      },
      fenced: (oldId) => this.onFenced(oldId),
      failed: (why) => this.writeFailed(why),
    }, this.now);
    this.publisher = new ClusterPublisher(this.keys, this.identity, client, {
      canWrite: () => this.lease.held && this.state.name !== 'stopped',
      healthy: () => this.lease.held && this.health.writeFailure === undefined,
      table: () => this.view.entriesOf(this.identity.id) ?? new Map(),
      fenced: () => this.lease.fence(),
      failed: (why) => this.writeFailed(why),
    }, keyTtlMs(options.leaseTtlMs));
    this.reader = new ClusterReader(options, this.keys, this.identity, this.view, {
      changed: (change) => this.emitChange(change),
      replicasChanged: () => this.replicaChanges.next(),
      fenced: () => this.lease.fence(),
      health: (failure) => {
        this.health.readFailure = failure;
        this.updateState();
      },
      registered: () => this.lease.held,
      synced: () => this.onSynced(),
    }, this.logger, this.now);
  }

  /** This replica's id (`nodeId/incarnation`). */
  get replicaId(): string {
    return this.identity.id;
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

  /**
   * Connects, registers and takes the first snapshot. A Redis that refuses us (or does not answer
   * within BOOT_WAIT_MS) is one warning and `degraded`, without holding up the boot: the parts
   * keep trying and the view starts when Redis answers.
   */
  async onApplicationBootstrap(): Promise<void> {
    this.redis = await connectRedis(this.options.redis, this.options.renewIntervalMs);
    // Connection errors are reported through the state (one warning at boot, then status$), not as unhandled errors.
    const onError = (error: Error) => this.connectionFailed(error);
    this.redis.client.on('error', onError);
    this.redis.reader.on('error', onError);
    const answered = new Promise<void>((resolve) => { this.bootAnswered = resolve; });
    this.subscription = this.local.events$.subscribe((e) => this.onLocalEvent(e));
    // A pure microservice's app.close() stops its server before any hook: the hand-over starts there.
    this.subscription.add(this.local.shuttingDown$.subscribe(() => this.onModuleDestroy()));
    for (const peer of this.local.peers()) {
      if (peer.status === 'alive' || peer.status === 'suspect') {
        this.emitEvents(this.view.setPeer(this.identity.id, peer.id, entryFromPeer(peer, peer.status, peer.connectedAt), this.now()));
      }
    }
    const firstRenew = this.lease.start();
    this.tickTimer = setInterval(() => this.emitChange(this.view.tick(this.now())), Math.min(100, this.options.renewIntervalMs));
    this.reader.start(this.redis.reader);
    await Promise.race([firstRenew.then(() => this.firstSync), answered, delay(BOOT_WAIT_MS)]);
    this.bootAnswered = undefined;
    if (this.state.name === 'starting' && !(this.lease.held && this.reader.synced)) this.writeFailed(`no answer within ${BOOT_WAIT_MS} ms`);
  }

  /** Shutdown begins (or our server began its graceful stop): local changes are not published any more (see the class comment). */
  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
    this.publisher.stop();
  }

  /** Graceful shutdown: the lease, table and record go, with one `bye`; the others hand this replica's peers over. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.state.name === 'stopped') return;
    this.onModuleDestroy();
    this.state = STOPPED;
    clearInterval(this.tickTimer);
    const redis = this.redis;
    const leaving = this.lease.release((keys, args) =>
      withTimeout(runScript(redis!.client, SCRIPTS.leave, keys, args), 1000).catch(() => undefined));
    if (redis) {
      await leaving;
      redis.reader.disconnect();
      if (redis.ownsClient) await withTimeout(redis.client.quit(), 1000).catch(() => redis.client.disconnect());
    }
    await withTimeout(this.reader.stop(), 1000).catch(() => undefined);
    this.events.complete();
    this.lostReplicas.complete();
    this.peerChanges.complete();
    this.replicaChanges.complete();
    this.status.complete();
  }

  private onLocalEvent(event: PresenceEvent): void {
    const entry = entryFromEvent(event);
    this.emitEvents(this.view.setPeer(this.identity.id, event.peer.id, entry, this.now()));
    this.publisher.change(event.peer.id, entry);
  }

  private onFenced(oldId: string): void {
    this.health.registered = false;
    this.view.rekeySelf(this.identity.record);
    this.publisher.republish();
    // Our lease was gone: maybe Redis forgot everything (FLUSHALL, eviction, an empty restart).
    this.reader.requestResync('our lease was gone');
    this.logger.warn(messages.clusterFenced(oldId, this.identity.id));
    this.replicaChanges.next();
  }

  private writeFailed(why: string): void {
    if (/^READONLY/.test(why) && this.redis && !this.redis.ownsClient && !this.readonlyWarned) {
      this.readonlyWarned = true;
      this.logger.warn(messages.clusterReadonlyGivenClient());
    }
    this.health.writeFailure ??= why;
    this.updateState();
  }

  /** A connection error. Only the first one while booting matters here (it ends the boot's wait); later ones show in failed commands. */
  private connectionFailed(error: Error): void {
    if (this.state.name !== 'starting') return;
    this.writeFailed(error.message || String(error));
    this.bootAnswered?.();
  }

  /** After the first snapshot, once: the boot's wait ends, and the boot line says the namespace, where, as whom, and who else is in it. */
  private onSynced(): void {
    if (!this.firstSynced) return;
    this.firstSynced();
    this.firstSynced = undefined;
    const counts = new Map<string, number>();
    for (const peer of this.view.peers()) {
      for (const r of peer.replicas) if (r.status === 'alive' || r.status === 'suspect') counts.set(r.replicaId, (counts.get(r.replicaId) ?? 0) + 1);
    }
    const others = this.view.replicaInfos().filter((r) => !r.self).map((r) => ({ id: r.id, peers: counts.get(r.id) ?? 0 }));
    const { namespace } = this.options;
    this.logger.log(messages.clusterJoined(namespace, describeRedis(this.options.redis), this.identity.id, others, namespace === DEFAULT_CLUSTER_NAMESPACE));
  }

  private emitChange(change: ViewChange): void {
    for (const lost of change.replicasLost) {
      this.logger.warn(messages.clusterReplicaLost(lost.replica.id, lost.peerIds.length));
      this.lostReplicas.next({ type: 'replica-lost', replica: lost.replica, peerIds: lost.peerIds, at: Math.round(this.now()) });
    }
    if (change.replicasLost.length > 0) this.replicaChanges.next();
    this.emitEvents(change.events);
  }

  private emitEvents(events: ClusterPresenceEvent[]): void {
    for (const event of events) this.events.next(event);
    if (events.length > 0) this.peerChanges.next();
  }

  private updateState(): void {
    const previous = this.state;
    const next = nextClusterState(previous, this.health);
    if (next === previous) return;
    this.state = next;
    if (previous.name === 'starting' && next.name === 'degraded') {
      this.logger.warn(messages.clusterUnreachableAtBoot(describeRedis(this.options.redis), next.why));
      this.bootAnswered?.();
    }
    if (statusOf(next) === statusOf(previous)) return;
    if (next.name === 'degraded') this.logger.warn(messages.clusterDegraded(next.why));
    else this.logger.log(messages.clusterConnected(this.identity.id));
    this.status.next(statusOf(next));
  }
}
