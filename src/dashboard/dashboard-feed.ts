import { Inject, Injectable, type BeforeApplicationShutdown, type MessageEvent } from '@nestjs/common';
import {
  auditTime, defer, EMPTY, finalize, interval, merge, mergeMap, Observable, ReplaySubject, share, takeUntil, tap,
} from 'rxjs';
import type { Snapshot } from './dashboard-rows.js';
import { DASHBOARD_FLUSH_MS, DASHBOARD_PULSE_MS } from './dashboard.constants.js';
import { LiveView } from './live-view.js';
import { PresenceHistory } from './presence-history.js';

/**
 * The pages' Server-Sent Events. Every open page shares one stream: one pulse timer, one
 * subscription to the presence streams, one serialization per change. It starts with the
 * first page and stops with the last (`share()` resets on zero subscribers): with no page
 * open the page costs nothing but the history's bounded ring.
 */
@Injectable()
export class DashboardFeed implements BeforeApplicationShutdown {
  private view: LiveView | undefined;
  /** Replays: a page that connects during shutdown ends at once. */
  private readonly closing = new ReplaySubject<void>(1);
  private readonly live$: Observable<MessageEvent>;

  constructor(@Inject(PresenceHistory) private readonly history: PresenceHistory) {
    this.live$ = defer(() => this.open()).pipe(takeUntil(this.closing), share());
  }

  /** One page's stream: the current state first, then what every page is sent. */
  connect(): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      const subscription = this.live$.subscribe(subscriber); // the first page opens the view, synchronously
      if (this.view) subscriber.next(this.view.snapshot()); // nothing else is emitted synchronously: it comes first
      return subscription;
    });
  }

  /** Ends every page's stream before the HTTP server closes: an open stream would hold its close up. */
  beforeApplicationShutdown(): void {
    this.closing.next();
  }

  private open(): Observable<MessageEvent> {
    const view = new LiveView(this.history, this.self());
    this.view = view;
    const cluster = this.history.presence.cluster;
    const changes$ = merge(
      this.history.events$.pipe(tap((row) => view.eventRecorded(row))),
      cluster ? cluster.status$.pipe(tap((status) => view.clusterStatusChanged(status))) : EMPTY,
    ).pipe(auditTime(DASHBOARD_FLUSH_MS), mergeMap(() => view.flush()));
    const pulses$ = interval(DASHBOARD_PULSE_MS).pipe(mergeMap(() => view.pulse()));
    return merge(changes$, pulses$).pipe(finalize(() => {
      if (this.view === view) this.view = undefined;
    }));
  }

  private self(): Snapshot['self'] {
    const options = this.history.heartbeatOptions;
    if (!options) return { recentMs: DASHBOARD_PULSE_MS };
    const { intervalMs, rule } = options.heartbeat;
    // Heard within an interval plus the contract's half-interval grace: a healthy link always is.
    const recentMs = Math.round(1.5 * intervalMs);
    return { nodeId: options.nodeId, intervalMs, lostAfterMs: rule.lostAfterMs, recentMs };
  }
}
