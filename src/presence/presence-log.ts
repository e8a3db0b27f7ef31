import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import * as messages from '../common/heartbeat.messages.js';
import type { PresenceEvent } from '../interfaces/presence.interface.js';
import { loggedByLink } from '../link/logged-causes.js';
import { PresenceService } from './presence.service.js';

/**
 * One log line per presence change, at a level that fits: a peer crash is a warning, never an
 * error with a stack. Peers we connect to are reported by their HeartbeatClient (connected,
 * lost and reconnecting, reconnected), so joins and departures are logged here for inbound
 * peers only; suspect and recovered for all. A loss the link already logged with its detail
 * (e.g. "silent for 3612 ms (heartbeat-timeout)") is not logged again.
 */
@Injectable()
export class PresenceLog implements OnModuleInit {
  private readonly logger = new Logger('Presence');

  constructor(@Inject(PresenceService) private readonly presence: PresenceService) {}

  onModuleInit(): void {
    // events$ completes at application shutdown, which ends this subscription.
    this.presence.events$.subscribe((event) => this.write(event));
  }

  private write({ type, peer, reason, at }: PresenceEvent): void {
    const inbound = peer.direction === 'inbound';
    switch (type) {
      case 'joined':
        if (inbound) this.logger.log(messages.peerJoined(peer.id, peer.address));
        return;
      case 'lost':
        if (inbound && !loggedByLink(reason)) this.logger.warn(messages.peerLost(peer.id, String(reason)));
        return;
      case 'left':
        if (inbound) this.logger.log(messages.peerLeft(peer.id));
        return;
      case 'suspect':
        this.logger.warn(messages.peerSuspect(peer.id, at - peer.lastSeenAt));
        return;
      case 'recovered':
        this.logger.log(messages.peerRecovered(peer.id));
        return;
    }
  }
}
