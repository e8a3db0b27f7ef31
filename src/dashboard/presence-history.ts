import { Inject, Injectable, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Subject, type Observable, type Subscription } from 'rxjs';
import { HEARTBEAT_RESOLVED_OPTIONS } from '../common/heartbeat.constants.js';
import type { ResolvedHeartbeatOptions } from '../options/resolved-options.js';
import type { LossReason } from '../interfaces/presence.interface.js';
import { PresenceService } from '../presence/presence.service.js';
import { clusterEventRow, localEventRow, type EventRow } from './dashboard-rows.js';
import { DASHBOARD_HISTORY_EVENTS, DASHBOARD_MAX_REASONS } from './dashboard.constants.js';
import { noPresenceForDashboard } from '../common/heartbeat.messages.js';

/**
 * What a page opened late needs and the presence streams no longer say: the last events, and
 * why each lost peer was lost (`PeerInfo` has its status, not its reason). Recorded from
 * module init, whether or not a page is open: a ring of events and one map entry per lost
 * peer, both bounded.
 *
 * It is also where the page's sources are found: `PresenceService` is injected when it is
 * visible from this module, otherwise looked up across the application (as the terminus
 * indicator does), so `HeartbeatModule` need not be global.
 */
@Injectable()
export class PresenceHistory implements OnModuleInit, OnApplicationShutdown {
  private readonly ring: EventRow[] = [];
  private readonly localReasons = new Map<string, LossReason>();
  private readonly clusterReasons = new Map<string, LossReason>();
  private readonly added = new Subject<EventRow>();
  private subscriptions: Subscription[] = [];

  /** Every event recorded from now on, hot. */
  readonly events$: Observable<EventRow> = this.added.asObservable();

  private options?: ResolvedHeartbeatOptions;

  constructor(
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Optional() @Inject(PresenceService) private presenceService?: PresenceService,
  ) {}

  /** The application's presence (set from module init on). */
  get presence(): PresenceService {
    if (this.presenceService) return this.presenceService;
    try {
      this.presenceService = this.moduleRef.get(PresenceService, { strict: false });
    } catch {
      // reported below
    }
    if (!this.presenceService) throw new Error(noPresenceForDashboard());
    return this.presenceService;
  }

  /** This process's nodeId and timing, for the page's header; undefined outside a HeartbeatModule app. */
  get heartbeatOptions(): ResolvedHeartbeatOptions | undefined {
    try {
      this.options ??= this.moduleRef.get<ResolvedHeartbeatOptions>(HEARTBEAT_RESOLVED_OPTIONS, { strict: false });
    } catch {
      // shown without
    }
    return this.options;
  }

  onModuleInit(): void {
    this.subscriptions.push(this.presence.events$.subscribe((event) => {
      this.record(localEventRow(event), this.localReasons);
    }));
    const cluster = this.presence.cluster;
    if (cluster) {
      this.subscriptions.push(cluster.events$.subscribe((event) => {
        this.record(clusterEventRow(event), this.clusterReasons);
      }));
    }
  }

  onApplicationShutdown(): void {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    this.added.complete();
  }

  /** The last events, oldest first. */
  recent(): EventRow[] {
    return [...this.ring];
  }

  localReason(peerId: string): LossReason | undefined {
    return this.localReasons.get(peerId);
  }

  clusterReason(peerId: string): LossReason | undefined {
    return this.clusterReasons.get(peerId);
  }

  private record(row: EventRow, reasons: Map<string, LossReason>): void {
    this.ring.push(row);
    if (this.ring.length > DASHBOARD_HISTORY_EVENTS) this.ring.shift();
    reasons.delete(row.id); // re-inserted last: the map's order is oldest loss first
    if (row.type === 'lost' && row.reason !== undefined) {
      reasons.set(row.id, row.reason);
      // A departed peer leaves the table after its retention without an event: forget the
      // oldest reasons instead of tracking expiry here.
      if (reasons.size > DASHBOARD_MAX_REASONS) reasons.delete(reasons.keys().next().value!);
    }
    this.added.next(row);
  }
}
