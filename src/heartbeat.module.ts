import { Logger, Module, type DynamicModule, type Provider } from '@nestjs/common';
import type { SchedulerLike } from 'rxjs';
import { DiscoveryModule } from '@nestjs/core';
import { ClusterPresenceService } from './cluster/cluster-presence.service.js';
import { CLUSTER_PRESENCE, HEARTBEAT_RESOLVED_OPTIONS, HEARTBEAT_SCHEDULER } from './common/heartbeat.constants.js';
import { HeartbeatTicker } from './detector/heartbeat-ticker.js';
import * as messages from './common/heartbeat.messages.js';
import {
  HEARTBEAT_ASYNC_OPTIONS_TYPE, HEARTBEAT_MODULE_OPTIONS, HEARTBEAT_OPTIONS_TYPE, HeartbeatConfigurableModule,
} from './heartbeat.module-definition.js';
import { resolveHeartbeatOptions } from './options/resolve-options.js';
import type { ResolvedHeartbeatOptions } from './options/resolved-options.js';
import type { HeartbeatModuleOptions } from './interfaces/heartbeat-options.interface.js';
import { ShutdownHooksCheck } from './lifecycle/shutdown-hooks.check.js';
import { HeartbeatMetrics } from './metrics/heartbeat-metrics.js';
import { PresenceLog } from './presence/presence-log.js';
import { PresenceMetadataAccessor } from './decorators/presence-metadata.accessor.js';
import { PresenceExplorer } from './presence/presence.explorer.js';
import { PeerTable } from './presence/peer-table.js';
import { PresenceService } from './presence/presence.service.js';
import { HeartbeatClient } from './transport/heartbeat-client.js';
import { HeartbeatServer } from './transport/heartbeat-server.js';

/**
 * Peer presence for Nest microservices: `PresenceService`, the `@OnPeer*` decorators, and,
 * when configured, `HeartbeatServer` and one injectable `HeartbeatClient` per `clients` entry.
 * Options are validated at start-up: a bad value fails the boot with a message naming it.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: HEARTBEAT_RESOLVED_OPTIONS, useFactory: resolveAndReport, inject: [HEARTBEAT_MODULE_OPTIONS] },
    {
      // One clock for every link of the process; a scheduler is given only in tests (virtual time).
      provide: HeartbeatTicker,
      inject: [HEARTBEAT_RESOLVED_OPTIONS, { token: HEARTBEAT_SCHEDULER, optional: true }],
      useFactory: (options: ResolvedHeartbeatOptions, scheduler?: SchedulerLike) => new HeartbeatTicker(options.heartbeat.rule, scheduler ?? undefined),
    },
    PeerTable,
    PresenceService,
    PresenceMetadataAccessor,
    PresenceExplorer,
    HeartbeatMetrics,
    ShutdownHooksCheck,
    PresenceLog,
    {
      // Only when `cluster` is configured (ioredis is loaded then and only then); PresenceService
      // takes it as `cluster`, and it reads the local table.
      provide: CLUSTER_PRESENCE,
      inject: [HEARTBEAT_RESOLVED_OPTIONS, PeerTable],
      useFactory: (options: ResolvedHeartbeatOptions, table: PeerTable) =>
        options.cluster ? new ClusterPresenceService(options.cluster, table, options.nodeId, options.metadata) : null,
    },
  ],
  exports: [PresenceService, HEARTBEAT_RESOLVED_OPTIONS],
})
export class HeartbeatModule extends HeartbeatConfigurableModule {
  static forRoot(options: typeof HEARTBEAT_OPTIONS_TYPE = {}): DynamicModule {
    const names = Array.isArray(options.clients) ? options.clients.map((c) => c?.name) : [];
    return withTransports(super.forRoot(options), options.server !== undefined, names);
  }

  /** With `clientNames`, the named clients are injectable; without `server` in the factory's result, HeartbeatServer resolves to null. */
  static forRootAsync(options: typeof HEARTBEAT_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withTransports(super.forRootAsync(options), true, options.clientNames ?? []);
  }
}

function withTransports(base: DynamicModule, server: boolean, clientNames: Array<string | symbol>): DynamicModule {
  const providers: Provider[] = clientNames.map((name) => ({
    provide: name,
    inject: [HEARTBEAT_RESOLVED_OPTIONS, HeartbeatTicker, PeerTable],
    useFactory: (options: ResolvedHeartbeatOptions, ticker: HeartbeatTicker, table: PeerTable) => {
      const client = options.clients.find((c) => c.name === name);
      if (!client) throw new TypeError(messages.invalidOption('clients', `has no entry named ${String(name)}`, options.clients.map((c) => String(c.name))));
      return new HeartbeatClient(client, options, ticker, table);
    },
  }));
  if (server) {
    providers.push({
      provide: HeartbeatServer,
      inject: [HEARTBEAT_RESOLVED_OPTIONS, HeartbeatTicker, PeerTable],
      useFactory: (options: ResolvedHeartbeatOptions, ticker: HeartbeatTicker, table: PeerTable) =>
        options.server ? new HeartbeatServer({ ...options, server: options.server }, ticker, table) : null,
    });
  }
  const exported = [...clientNames, ...(server ? [HeartbeatServer] : [])];
  return {
    ...base,
    providers: [...(base.providers ?? []), ...providers],
    exports: [...(base.exports ?? []), ...exported],
  };
}

/** Resolves the options once per module; a detection budget's derived timing is logged once, at boot. */
function resolveAndReport(options: HeartbeatModuleOptions): ResolvedHeartbeatOptions {
  const resolved = resolveHeartbeatOptions(options);
  const { heartbeat: hb, keepAlive: ka } = resolved;
  if (hb.detectWithinMs !== undefined) {
    new Logger('HeartbeatModule').log(messages.derivedTiming(hb.detectWithinMs, hb.intervalMs, hb.missedBeats, ka.idleMs, ka.probes, ka.intervalMs));
  }
  return resolved;
}

export type { HeartbeatModuleOptions };
