import { Inject, Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HealthIndicatorService, type HealthIndicatorResult, type HealthIndicatorStatus } from '@nestjs/terminus';
import * as messages from '../common/heartbeat.messages.js';
import type { PeerFilter, PeerInfo, PeerStatus } from '../interfaces/presence.interface.js';
import { matchesPeer } from '../presence/peer-filter.js';
import { PresenceService } from '../presence/presence.service.js';

/** Quorum form of `HeartbeatHealthIndicator.isHealthy`. */
export interface PeerQuorumOptions {
  /** Which peers count: a peer id, `{ id, metadata }`, or a predicate, as in `@OnPeer*`. Default: every peer. */
  filter?: PeerFilter;
  /** Healthy when at least this many matching peers are alive (`alive` or `suspect`). Default `1`. */
  minAlive?: number;
  /** See `PeerHealthCheckOptions.degradeOnSuspect`. */
  degradeOnSuspect?: boolean;
}

export interface PeerHealthCheckOptions {
  /**
   * A suspect peer counts as alive, as in `PresenceService.isAlive`. With `true`, a check that
   * passes only thanks to suspect peers reports terminus's `degraded` (HTTP 200, overall status
   * `degraded`) instead of `up`. Default `false`.
   */
  degradeOnSuspect?: boolean;
}

/** One peer as listed in the result details. */
export type PeerHealthDetail = {
  id: string;
  /** `unknown`: a named peer that is not in the presence table (never joined, or gone for 60 s). */
  status: PeerStatus | 'unknown';
  /** Smoothed round-trip time; `null` before the first ping/pong. */
  rttMs: number | null;
  /** Time since the last frame from the peer; `null` when unknown. */
  lastSeenAgoMs: number | null;
  address?: string;
};

/** What the indicator adds under its key, next to terminus's `status`. */
export type PeerHealthData = {
  /** Peers counted alive (`alive` or `suspect`). */
  alive: number;
  /** How many must be alive: the number of named peers, or `minAlive`. */
  required: number;
  peers: PeerHealthDetail[];
  /** Set when not `up`. */
  message?: string;
};

/** The indicator's result: `{ [key]: { status, alive, required, peers, message? } }`. */
export type PeerHealthResult<Key extends string = string> = HealthIndicatorResult<Key, HealthIndicatorStatus, PeerHealthData>;

const isAlive = (status: PeerHealthDetail['status']) => status === 'alive' || status === 'suspect';

/**
 * A @nestjs/terminus health indicator on peer presence.
 *
 * ```ts
 * @Get('health') @HealthCheck()
 * check() {
 *   return this.health.check([
 *     () => this.peers.isHealthy('orders', ['orders-1', 'orders-2']),            // all named peers alive
 *     () => this.peers.isHealthy('billing', { filter: { metadata: { service: 'billing' } }, minAlive: 2 }),
 *   ]);
 * }
 * ```
 *
 * `PresenceService` is injected when it is visible from the indicator's module, otherwise it is
 * looked up across the application (as terminus's own TypeORM indicator finds its data source),
 * so `HeartbeatHealthModule` works whether or not `HeartbeatModule` is global.
 */
@Injectable()
export class HeartbeatHealthIndicator implements OnModuleInit {
  constructor(
    // Explicit tokens: works with compilers that emit no decorator metadata (tsx, esbuild).
    @Inject(HealthIndicatorService) private readonly indicator: HealthIndicatorService,
    @Inject(ModuleRef) private readonly moduleRef: ModuleRef,
    @Optional() @Inject(PresenceService) private presence?: PresenceService,
  ) {}

  onModuleInit(): void {
    this.presenceService();
  }

  /**
   * `up` when every named peer is alive (`PresenceService.isAlive`: `alive` or `suspect`);
   * `down` when any is `lost`, `left` or unknown.
   */
  isHealthy<const Key extends string>(key: Key, peerIds: string | readonly string[], options?: PeerHealthCheckOptions): PeerHealthResult<Key>;
  /** `up` when at least `minAlive` (default 1) peers matching `filter` are alive. */
  isHealthy<const Key extends string>(key: Key, quorum: PeerQuorumOptions): PeerHealthResult<Key>;
  isHealthy<const Key extends string>(
    key: Key, target: string | readonly string[] | PeerQuorumOptions, options: PeerHealthCheckOptions = {},
  ): PeerHealthResult<Key> {
    const presence = this.presenceService();
    const now = Date.now();
    let peers: PeerHealthDetail[];
    let required: number;
    let degradeOnSuspect: boolean;
    let named: boolean;
    if (typeof target === 'string' || Array.isArray(target)) {
      const ids: readonly string[] = typeof target === 'string' ? [target] : target;
      if (ids.length === 0 || ids.some((id) => typeof id !== 'string' || id.length === 0)) {
        throw new TypeError(messages.invalidHealthCheck(key, 'peer ids', 'must be a non-empty list of non-empty strings', target));
      }
      peers = [...new Set(ids)].map((id) => {
        const info = presence.get(id);
        return info ? detail(info, now) : { id, status: 'unknown', rttMs: null, lastSeenAgoMs: null };
      });
      required = peers.length;
      degradeOnSuspect = options.degradeOnSuspect === true;
      named = true;
    } else {
      const quorum = target as PeerQuorumOptions;
      const minAlive = quorum.minAlive ?? 1;
      if (!Number.isInteger(minAlive) || minAlive < 0) {
        throw new TypeError(messages.invalidHealthCheck(key, 'minAlive', 'must be an integer >= 0', quorum.minAlive));
      }
      peers = presence.peers().filter((p) => matchesPeer(quorum.filter, p)).map((p) => detail(p, now));
      required = minAlive;
      degradeOnSuspect = quorum.degradeOnSuspect === true;
      named = false;
    }

    const alive = peers.filter((p) => isAlive(p.status)).length;
    const fullyAlive = peers.filter((p) => p.status === 'alive').length;
    const data: PeerHealthData = { alive, required, peers };
    const check = this.indicator.check(key);
    if (alive < required) {
      const down = peers.filter((p) => !isAlive(p.status)).map((p) => `${p.id} (${p.status})`).join(', ');
      data.message = named
        ? `not alive: ${down}`
        : `${alive} of ${peers.length} matching peers alive, ${required} required` + (down ? `; not alive: ${down}` : '');
      return check.down(data);
    }
    if (degradeOnSuspect && fullyAlive < required) {
      const suspects = peers.filter((p) => p.status === 'suspect').map((p) => p.id);
      data.message = `relies on suspect peers: ${suspects.join(', ')}`;
      return check.degraded(data);
    }
    return check.up(data);
  }

  private presenceService(): PresenceService {
    if (this.presence) return this.presence;
    try {
      this.presence = this.moduleRef.get(PresenceService, { strict: false });
    } catch {
      // reported below
    }
    if (!this.presence) {
      throw new Error(messages.noPresenceForHealth());
    }
    return this.presence;
  }
}

function detail(peer: PeerInfo, now: number): PeerHealthDetail {
  return {
    id: peer.id,
    status: peer.status,
    rttMs: peer.rttMs === undefined ? null : Math.round(peer.rttMs * 100) / 100,
    lastSeenAgoMs: Math.max(0, now - peer.lastSeenAt),
    address: peer.address,
  };
}
