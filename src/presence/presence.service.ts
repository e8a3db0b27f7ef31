import { Inject, Injectable, Optional } from '@nestjs/common';
import { CLUSTER_PRESENCE } from '../common/heartbeat.constants.js';
import {
  concat, defer, distinctUntilChanged, EMPTY, filter, map, merge, of, type Observable,
} from 'rxjs';
import type { PeerInfo, PeerStatus, PresenceEvent } from '../interfaces/presence.interface.js';
import { PeerTable } from './peer-table.js';
import type { ClusterPresence } from '../interfaces/cluster.interface.js';

/**
 * The live peer table, inbound and outbound alike, keyed by the peer's nodeId, as RxJS streams
 * and queries. Read-only: the transports feed the table behind it.
 */
@Injectable()
export class PresenceService {
  /** Every presence event, hot; never errors. */
  readonly events$: Observable<PresenceEvent>;
  /** The current table on subscription, then again after each change (coalesced over 10 ms). */
  readonly peers$: Observable<PeerInfo[]>;

  /** Cluster presence (every replica's peers, via Redis) when the `cluster` option is configured, else undefined. */
  readonly cluster: ClusterPresence | undefined;

  constructor(
    @Inject(PeerTable) private readonly table: PeerTable,
    @Optional() @Inject(CLUSTER_PRESENCE) cluster?: ClusterPresence | null,
  ) {
    this.cluster = cluster ?? undefined;
    this.events$ = table.events$;
    this.peers$ = defer(() => merge(of(undefined), table.changes$))
      .pipe(map(() => table.peers()));
  }

  peers(): PeerInfo[] {
    return this.table.peers();
  }

  get(peerId: string): PeerInfo | undefined {
    return this.table.get(peerId);
  }

  /** True only while the peer is `alive` or `suspect`. */
  isAlive(peerId: string): boolean {
    const status = this.table.status(peerId);
    return status === 'alive' || status === 'suspect';
  }

  /** The peer's distinct statuses: its current one first when it is known. */
  watch(peerId: string): Observable<PeerStatus> {
    return defer(() => {
      const current = this.table.status(peerId);
      const updates = this.events$.pipe(filter((e) => e.peer.id === peerId), map((e) => e.peer.status));
      return concat(current === undefined ? EMPTY : of(current), updates);
    }).pipe(distinctUntilChanged());
  }
}
