import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { merge, map, type Observable, type Subscription } from 'rxjs';
import type { PresenceScope } from '../decorators/on-presence-event.decorator.js';
import * as messages from '../common/heartbeat.messages.js';
import type { PeerFilter, PeerInfo } from '../interfaces/presence.interface.js';
import { matchesPeer } from './peer-filter.js';
import { PresenceMetadataAccessor } from '../decorators/presence-metadata.accessor.js';
import { PresenceService } from './presence.service.js';

/** A local, cluster or replica event: what a handler receives. */
interface AnyEvent { type: string; peer?: unknown }

interface BoundHandler {
  scope: PresenceScope;
  type: string;
  filter?: PeerFilter;
  owner: string;
  method: string;
  call: (event: AnyEvent) => unknown;
}

/**
 * Finds @OnPeer* methods on singleton providers and controllers at module init, and calls them
 * for matching presence events. Handlers run without blocking detection; one that throws or
 * rejects is logged with its class and method and affects nothing else.
 */
@Injectable()
export class PresenceExplorer implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('PresenceExplorer');
  private readonly handlers: BoundHandler[] = [];
  private subscription: Subscription | undefined;

  constructor(
    // Explicit tokens: the library works with compilers that emit no decorator metadata (tsx, esbuild).
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(PresenceMetadataAccessor) private readonly accessor: PresenceMetadataAccessor,
    @Inject(PresenceService) private readonly presence: PresenceService,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const { instance } = wrapper;
      if (!instance || typeof instance !== 'object' || wrapper.isAlias) continue;
      const prototype = Object.getPrototypeOf(instance);
      if (!prototype) continue;
      for (const method of this.scanner.getAllMethodNames(prototype)) {
        const metadata = this.accessor.getHandlers(instance[method]);
        if (metadata.length === 0) continue;
        const owner = instance.constructor?.name ?? 'Object';
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(messages.nonStaticHandler(owner, method));
          continue;
        }
        for (const { scope = 'local', type, filter } of metadata) {
          if (scope !== 'local' && !this.presence.cluster) {
            this.logger.warn(messages.clusterHandlerOnly(owner, method));
            continue;
          }
          this.handlers.push({ scope, type, filter, owner, method, call: (e) => instance[method](e) });
        }
      }
    }
    const sources: Array<Observable<[PresenceScope, AnyEvent]>> = [];
    const wants = (scope: PresenceScope) => this.handlers.some((h) => h.scope === scope);
    if (wants('local')) sources.push(this.presence.events$.pipe(map((e) => ['local', e] as [PresenceScope, AnyEvent])));
    const cluster = this.presence.cluster; // handlers of these scopes were kept only with it
    if (cluster && wants('cluster')) sources.push(cluster.events$.pipe(map((e) => ['cluster', e] as [PresenceScope, AnyEvent])));
    if (cluster && wants('replica')) sources.push(cluster.replicaLost$.pipe(map((e) => ['replica', e] as [PresenceScope, AnyEvent])));
    if (sources.length > 0) {
      this.subscription = merge(...sources).subscribe(([scope, event]) => this.dispatch(scope, event));
    }
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  private dispatch(scope: PresenceScope, event: AnyEvent): void {
    for (const handler of this.handlers) {
      if (handler.scope !== scope || handler.type !== event.type) continue;
      let matches: boolean;
      try {
        // A cluster peer has the id and metadata a filter looks at.
        matches = scope === 'replica' || matchesPeer(handler.filter, event.peer as PeerInfo);
      } catch (error) {
        this.logFailure(handler, event, error);
        continue;
      }
      if (matches) void this.invoke(handler, event);
    }
  }

  private async invoke(handler: BoundHandler, event: AnyEvent): Promise<void> {
    try {
      await handler.call(event);
    } catch (error) {
      this.logFailure(handler, event, error);
    }
  }

  /** Whatever was thrown (an Error, a string, a Symbol, an object without a prototype): logged, never rethrown. */
  private logFailure(handler: BoundHandler, event: AnyEvent, error: unknown): void {
    let stack: string | undefined;
    try {
      stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : undefined;
    } catch {
      stack = undefined;
    }
    this.logger.error(`${messages.handlerFailed(handler.owner, handler.method, event.type)}: ${messages.safeErrorText(error)}`, stack);
  }
}
