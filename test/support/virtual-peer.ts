import { Logger } from '@nestjs/common';
import type { PeerCertificate } from 'node:tls';
import { VirtualTimeScheduler } from 'rxjs';
import { HeartbeatTicker } from '../../src/detector/heartbeat-ticker.js';
import { resolveHeartbeatOptions } from '../../src/options/resolve-options.js';
import { createLinkContext, type LinkContext, type LinkOwner } from '../../src/link/link-context.js';
import type { HeartbeatModuleOptions } from '../../src/interfaces/heartbeat-options.interface.js';
import type { PresenceEvent } from '../../src/interfaces/presence.interface.js';
import { PeerLink, type LinkAuth } from '../../src/link/peer-link.js';
import { PeerTable } from '../../src/presence/peer-table.js';
import { PresenceService } from '../../src/presence/presence.service.js';
import type { LinkTransport } from '../../src/protocol/heartbeat-socket.js';
import { ping, type ControlFrame } from '../../src/protocol/frames.js';

/**
 * The failure detector on virtual time: a real PeerTable, PresenceService, HeartbeatTicker and PeerLinks,
 * with an in-memory transport standing in for the socket (the behaviour under test is timing,
 * not the socket's) and an RxJS VirtualTimeScheduler as the clock.
 */
export class VirtualClock {
  readonly scheduler = new VirtualTimeScheduler();

  get now(): number {
    return this.scheduler.now();
  }

  /** Runs every scheduled action up to virtual time `t`. */
  runUntil(t: number): void {
    this.scheduler.maxFrames = t;
    this.scheduler.flush();
    if (this.scheduler.frame < t) this.scheduler.frame = t;
  }

  advance(ms: number): void {
    this.runUntil(this.now + ms);
  }
}

export class MemoryTransport implements LinkTransport {
  readonly sent: Array<{ at: number; frame: ControlFrame }> = [];
  lastSentAt: number;
  writableLength = 0;
  pendingRequests = 0;
  ended = false;
  destroyed = false;

  constructor(private readonly now: () => number) {
    this.lastSentAt = now();
  }

  sendControl(frame: ControlFrame): number {
    this.sent.push({ at: this.now(), frame });
    this.lastSentAt = this.now();
    return JSON.stringify(frame).length;
  }

  sendPing(seq: number, t: number, rtt: number): number {
    return this.sendControl(ping(seq, t, Number.isNaN(rtt) ? undefined : rtt));
  }

  sendPong(seq: number, t: number): number {
    return this.sendControl({ $hb: 'pong', seq, t });
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  frameLimit = 64 * 1024;
  certificate: PeerCertificate | undefined;

  peerCertificate(): PeerCertificate | undefined {
    return this.certificate;
  }

  setFrameLimit(bytes: number): void {
    this.frameLimit = bytes;
  }

  kinds(): string[] {
    return this.sent.map((s) => s.frame.$hb);
  }
}

/** Records what a link tells its owner (the server or client). */
export class RecordingOwner implements LinkOwner {
  readonly told: string[] = [];
  linkConnected(): void { this.told.push('connected'); }
  linkOpened(): void { this.told.push('opened'); }
  linkDraining(): void { this.told.push('draining'); }
  linkClosed(): void { this.told.push('closed'); }
}

export function virtualWorld(options: HeartbeatModuleOptions = {}) {
  const clock = new VirtualClock();
  const resolved = resolveHeartbeatOptions({ nodeId: 'local', ...options });
  const ticker = new HeartbeatTicker(resolved.heartbeat.rule, clock.scheduler);
  const table = new PeerTable(ticker, resolved);
  const presence = new PresenceService(table);
  const logger = new Logger('test');
  const warnings: string[] = [];
  logger.warn = (m: unknown) => void warnings.push(String(m));
  const ctx: LinkContext = createLinkContext(resolved, ticker, table, logger);
  const events: PresenceEvent[] = [];
  presence.events$.subscribe((e) => events.push(e));

  /** A link on a memory transport, whose other side we script frame by frame. */
  function scripted(direction: 'inbound' | 'outbound', address: string, auth: LinkAuth) {
    const transport = new MemoryTransport(() => clock.now);
    const owner = new RecordingOwner();
    const link = new PeerLink(direction, address, transport, ctx, owner, auth);
    return {
      link,
      transport,
      owner,
      receive(frame: Record<string, unknown>): boolean {
        return link.onFrame(frame, JSON.stringify(frame).length);
      },
      /** The socket closed (after our destroy, or the peer's FIN/RST). */
      close(errorCode?: string) {
        if (errorCode !== undefined) link.onSocketError(Object.assign(new Error(errorCode), { code: errorCode }));
        link.onTransportClosed();
      },
    };
  }

  /** An accepted connection. */
  function inbound(auth: LinkAuth = {}) {
    const peer = scripted('inbound', '10.0.0.9:5000', auth);
    return {
      ...peer,
      hello(id = 'peer-1', extra: Record<string, unknown> = {}) {
        return peer.receive({ $hb: 'hello', v: 1, id, meta: { service: 'orders' }, ...extra });
      },
      ping(seq = 1) {
        return peer.receive({ $hb: 'ping', seq, t: clock.now });
      },
    };
  }

  /** A connection we opened (it has said hello). */
  function outbound(auth: LinkAuth = {}) {
    const server = scripted('outbound', '10.0.0.1:4000', auth);
    server.link.start();
    return {
      ...server,
      welcome(id = 'server-1', extra: Record<string, unknown> = {}) {
        return server.receive({ $hb: 'welcome', v: 1, id, inc: 'srv-inc', meta: {}, ...extra });
      },
    };
  }

  return { clock, ticker, table, presence, outbound, ctx, events, warnings, inbound, options: resolved };
}

/** A scripted inbound peer on a real (module-provided) detector and presence table. */
export function scriptedPeer(ctx: LinkContext, id: string, meta: Record<string, string> = {}) {
  const transport = new MemoryTransport(() => ctx.clock.now());
  const link = new PeerLink('inbound', '127.0.0.1:1', transport, ctx, new RecordingOwner());
  link.onFrame({ $hb: 'hello', v: 1, id, meta }, 0);
  return { link, transport };
}

/** A virtual world with one inbound peer `peer-1` joined, judged at interval 1000, missedBeats 3, suspect after 1 beat. */
export function joinedPeer() {
  const world = virtualWorld({ heartbeat: { intervalMs: 1000, missedBeats: 3, suspectAfterBeats: 1 } });
  const peer = world.inbound();
  peer.hello('peer-1');
  return { ...world, peer };
}
