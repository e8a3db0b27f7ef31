import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { Subscription } from 'rxjs';
import * as messages from '../heartbeat.messages.js';
import type { PeerFilter, PresenceEvent, PresenceEventType } from '../interfaces/presence.interface.js';
import { matchesPeer } from './peer-filter.js';
import { PresenceMetadataAccessor } from './presence-metadata.accessor.js';
import { PresenceService } from './presence.service.js';

interface BoundHandler {
  type: PresenceEventType;
  filter?: PeerFilter;
  owner: string;
  method: string;
  call: (event: PresenceEvent) => unknown;
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
        for (const { type, filter } of metadata) {
          this.handlers.push({ type, filter, owner, method, call: (e) => instance[method](e) });
        }
      }
    }
    if (this.handlers.length > 0) {
      this.subscription = this.presence.events$.subscribe((event) => this.dispatch(event));
    }
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }

  private dispatch(event: PresenceEvent): void {
    for (const handler of this.handlers) {
      if (handler.type !== event.type) continue;
      let matches: boolean;
      try {
        matches = matchesPeer(handler.filter, event.peer);
      } catch (error) {
        this.logFailure(handler, event, error);
        continue;
      }
      if (matches) void this.invoke(handler, event);
    }
  }

  private async invoke(handler: BoundHandler, event: PresenceEvent): Promise<void> {
    try {
      await handler.call(event);
    } catch (error) {
      this.logFailure(handler, event, error);
    }
  }

  private logFailure(handler: BoundHandler, event: PresenceEvent, error: unknown): void {
    const e = error as Error;
    this.logger.error(`${messages.handlerFailed(handler.owner, handler.method, event.type)}: ${e?.message ?? e}`, e?.stack);
  }
}
