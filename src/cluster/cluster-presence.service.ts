import { Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import {
  auditTime, BehaviorSubject, defer, distinctUntilChanged, map, merge, of, Subject, type Observable, type Subscription,
} from 'rxjs';
import * as messages from '../common/heartbeat.messages.js';
import type {
  ClusterPeerInfo, ClusterPresence, ClusterPresenceEvent, ClusterStatus, ReplicaInfo, ReplicaLostEvent,
} from '../interfaces/cluster.interface.js';
import type { PeerInfo, PresenceEvent } from '../interfaces/presence.interface.js';
import type { ResolvedClusterOptions } from '../options/resolve-cluster-options.js';
import { delay, withTimeout } from './async-helpers.js';
import { entryFromEvent, entryFromPeer } from './cluster-codec.js';
import { ClusterLease } from './cluster-lease.js';
import { ClusterPublisher } from './cluster-publisher.js';
import { ClusterReader } from './cluster-reader.js';
import { clusterKeys, runScript, SCRIPTS, type ClusterKeys } from './cluster-scripts.js';
import { nextClusterState, STARTING, statusOf, STOPPED, type ClusterHealth, type ClusterState } from './cluster-state.js';
import { ClusterView, type ViewChange } from './cluster-view.js';
import { connectRedis, type RedisConnections } from './redis-client.js';
import { ReplicaIdentity } from './replica-identity.js';

export { STREAM_MAX_ENTRIES } from './cluster-lease.js';

/**
 * What cluster presence needs from the local peer table: its events and its current peers.
 * PresenceService is one; anything that can say who is connected here can feed it.
 */
export interface LocalPresence {
  readonly events$: Observable<PresenceEvent>;
  peers(): PeerInfo[];
}

const COALESCE_MS = 10;

/**
 * Cluster presence on Redis (see docs/CLUSTER.md), composed of parts with one job each: the
 * lease (register, renew, fencing, stall guard), the publisher (this replica's table, batched),
 * the reader (everyone else's changes from the stream, gaps, resync) and the view (ClusterView:
 * the merge and its events, pure). This class wires them to the local table and to Nest's
 * lifecycle, and holds the one state they report into. Redis going away freezes the view
 * (status `degraded`), never empties it.
 */
export class ClusterPresenceService implements ClusterPresence, OnApplicationBootstrap, BeforeApplicationShutdown {
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

  constructor(
    private readonly options: ResolvedClusterOptions,
    private readonly local: LocalPresence,
    nodeId: string,
    metadata: Record<string, string>,
    private readonly now: () => number = Date.now,
  ) {
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
    });
    this.reader = new ClusterReader(options, this.keys, this.identity, this.view, {
      changed: (change) => this.emitChange(change),
      replicasChanged: () => this.replicaChanges.next(),
      fenced: () => this.lease.fence(),
      health: (failure) => {
        this.health.readFailure = failure;
        this.updateState();
      },
      registered: () => this.lease.held,
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

  /** Connects and takes the first snapshot; if Redis is not there within min(lease, 3 s), starts degraded and keeps trying. */
  async onApplicationBootstrap(): Promise<void> {
    this.redis = await connectRedis(this.options.redis, this.options.renewIntervalMs);
    this.redis.client.on('error', () => undefined); // reported through status$, not as unhandled errors
    this.redis.reader.on('error', () => undefined);
    this.subscription = this.local.events$.subscribe((e) => this.onLocalEvent(e));
    for (const peer of this.local.peers()) {
      if (peer.status === 'alive' || peer.status === 'suspect') {
        this.emitEvents(this.view.setPeer(this.identity.id, peer.id, entryFromPeer(peer, peer.status, peer.connectedAt), this.now()));
      }
    }
    const firstRenew = this.lease.start();
    this.tickTimer = setInterval(() => this.emitChange(this.view.tick(this.now())), Math.min(100, this.options.renewIntervalMs));
    this.reader.start(this.redis.reader);
    await Promise.race([firstRenew.then(() => this.until(() => this.reader.synced)), delay(Math.min(this.options.leaseTtlMs, 3000))]);
  }

  /** Graceful shutdown: the others see this replica's peers `left` at once. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.state.name === 'stopped') return;
    this.state = STOPPED;
    this.subscription?.unsubscribe();
    clearInterval(this.tickTimer);
    this.publisher.stop();
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
    this.logger.warn(messages.clusterFenced(oldId, this.identity.id));
    this.replicaChanges.next();
  }

  private writeFailed(why: string): void {
    this.health.writeFailure ??= why;
    this.updateState();
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
    if (statusOf(next) === statusOf(previous)) return;
    if (next.name === 'degraded') this.logger.warn(messages.clusterDegraded(next.why));
    else this.logger.log(messages.clusterConnected(this.identity.id));
    this.status.next(statusOf(next));
  }

  private async until(condition: () => boolean): Promise<void> {
    while (!condition() && this.state.name !== 'stopped') await delay(10);
  }
}
