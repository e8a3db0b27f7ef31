import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Attributes, Counter, Histogram, Meter, ObservableGauge, ObservableResult } from '@opentelemetry/api';
import type { Subscription } from 'rxjs';
import * as messages from '../common/heartbeat.messages.js';
import type { PeerStatus, PresenceEvent } from '../interfaces/presence.interface.js';
import { PeerTable } from '../presence/peer-table.js';
import { PresenceService } from '../presence/presence.service.js';

export const METER_NAME = 'nest-heartbeat';

const STATUSES: readonly PeerStatus[] = ['alive', 'suspect', 'lost', 'left'];
/** Loopback to cross-region round trips, in ms. */
const RTT_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
/**
 * Detection runs from a few ms (a reset) to `(missedBeats + 0.5) × intervalMs` (a hang: 3.5 s
 * with the defaults), so the buckets are dense around whole seconds.
 */
const DETECTION_BUCKETS = [10, 50, 100, 250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 7500, 10_000, 20_000, 60_000];

interface Instruments {
  peers: ObservableGauge;
  rtt: Histogram;
  events: Counter;
  detection: Histogram;
}

/**
 * OpenTelemetry metrics of presence, under meter `nest-heartbeat`, when `@opentelemetry/api` is
 * installed (an optional peer dependency). It is imported at module init, never statically, so
 * an application without it loads nothing of it and records nothing. Built on PresenceService's
 * public streams; the raw RTT samples come from the peer table, which its links report them to.
 *
 * The API has no proxy for meters: register the MeterProvider before the Nest application is
 * created; without one, metrics are off (nothing is recorded, and no work is done per beat).
 */
@Injectable()
export class HeartbeatMetrics implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('HeartbeatMetrics');
  private instruments: Instruments | undefined;
  private subscription: Subscription | undefined;
  private readonly observePeers = (result: ObservableResult) => this.recordPeers(result);

  constructor(
    @Inject(PresenceService) private readonly presence: PresenceService,
    /** The raw RTT samples its links report. */
    @Inject(PeerTable) private readonly table: PeerTable,
  ) {}

  async onModuleInit(): Promise<void> {
    let api: typeof import('@opentelemetry/api');
    try {
      api = await import('@opentelemetry/api');
    } catch {
      return; // not installed: metrics are off
    }
    try {
      const meter = api.metrics.getMeter(METER_NAME);
      // No MeterProvider registered: every instrument is a no-op, so none is made and nothing is
      // fed to them (the API is often installed as another library's dependency; an RTT sample per pong is not free).
      if (meter === api.createNoopMeter()) return;
      this.start(meter);
    } catch (e) {
      // A broken metrics setup must not stop presence.
      this.logger.warn(messages.metricsUnavailable(e?.message ?? String(e)));
    }
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    this.instruments?.peers.removeCallback(this.observePeers);
    this.instruments = undefined;
  }

  private start(meter: Meter): void {
    const instruments: Instruments = {
      peers: meter.createObservableGauge('heartbeat.peers', {
        description: 'Peers in the presence table, by status', unit: '{peer}',
      }),
      rtt: meter.createHistogram('heartbeat.rtt', {
        description: 'Heartbeat round-trip time, one sample per pong', unit: 'ms',
        advice: { explicitBucketBoundaries: RTT_BUCKETS },
      }),
      events: meter.createCounter('heartbeat.events', {
        description: 'Presence events, by type and loss reason', unit: '{event}',
      }),
      detection: meter.createHistogram('heartbeat.detection', {
        description: 'Time from the last frame heard from a peer to its loss', unit: 'ms',
        advice: { explicitBucketBoundaries: DETECTION_BUCKETS },
      }),
    };
    this.instruments = instruments;
    instruments.peers.addCallback(this.observePeers);
    this.subscription = this.presence.events$.subscribe((event) => this.recordEvent(event));
    this.subscription.add(this.table.rttSamples$.subscribe((ms) => instruments.rtt.record(ms)));
  }

  private recordEvent(event: PresenceEvent): void {
    const { events, detection } = this.instruments!;
    const attributes: Attributes = { type: event.type };
    if (event.reason !== undefined) attributes.reason = event.reason;
    events.add(1, attributes);
    if (event.type === 'lost') {
      // The snapshot is taken at the event: lastSeenAt is the last frame heard.
      detection.record(Math.max(0, event.at - event.peer.lastSeenAt), event.reason === undefined ? {} : { reason: event.reason });
    }
  }

  /** Every status is reported, zeros included, so a dashboard line drops to 0 instead of vanishing. */
  private recordPeers(result: ObservableResult): void {
    const counts = new Map<PeerStatus, number>(STATUSES.map((s) => [s, 0]));
    for (const peer of this.presence.peers()) counts.set(peer.status, (counts.get(peer.status) ?? 0) + 1);
    for (const [status, n] of counts) result.observe(n, { status });
  }
}
