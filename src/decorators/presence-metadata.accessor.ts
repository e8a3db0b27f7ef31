import { Injectable } from '@nestjs/common';
import type { PresenceHandlerMetadata } from './on-presence-event.decorator.js';
import { PRESENCE_HANDLERS_METADATA } from '../common/heartbeat.constants.js';

/** Reads @OnPeer* metadata; tolerates odd targets (proxies, non-functions). */
@Injectable()
export class PresenceMetadataAccessor {
  getHandlers(target: unknown): PresenceHandlerMetadata[] {
    if (!target || (typeof target !== 'function' && typeof target !== 'object')) return [];
    return Reflect.getMetadata(PRESENCE_HANDLERS_METADATA, target as object) ?? [];
  }
}
