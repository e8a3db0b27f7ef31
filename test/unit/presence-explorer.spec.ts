import { jest } from '@jest/globals';
import { Injectable, Logger, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { HeartbeatTicker } from '../../src/detector/heartbeat-ticker.js';
import {
  HEARTBEAT_RESOLVED_OPTIONS, HeartbeatModule, OnPeerJoined, OnPeerLeft, OnPeerLost, OnPeerRecovered, OnPeerSuspect,
  PresenceService, type PeerInfo, type PresenceEvent,
} from '../../src/index.js';
import { createLinkContext } from '../../src/link/link-context.js';
import { PeerTable } from '../../src/presence/peer-table.js';
import { scriptedPeer } from '../support/virtual-peer.js';

const calls: string[] = [];

@Injectable()
class Handlers {
  @OnPeerJoined() anyJoin(e: PresenceEvent) { calls.push(`any:${e.peer.id}`); }
  @OnPeerJoined('orders-1') byId(e: PresenceEvent) { calls.push(`id:${e.peer.id}`); }
  @OnPeerJoined({ metadata: { service: 'billing' } }) byMeta(e: PresenceEvent) { calls.push(`meta:${e.peer.id}`); }
  @OnPeerJoined({ id: 'billing-1', metadata: { zone: 'b' } }) byBoth(e: PresenceEvent) { calls.push(`both:${e.peer.id}`); }
  @OnPeerJoined((p: PeerInfo) => p.id.endsWith('-2')) byPredicate(e: PresenceEvent) { calls.push(`pred:${e.peer.id}`); }
  @OnPeerLost() @OnPeerLeft() gone(e: PresenceEvent) { calls.push(`${e.type}:${e.peer.id}:${e.reason ?? ''}`); }
  @OnPeerSuspect() suspect(e: PresenceEvent) { calls.push(`suspect:${e.peer.id}`); }
  @OnPeerRecovered() recovered(e: PresenceEvent) { calls.push(`recovered:${e.peer.id}`); }
}

@Injectable()
class Faulty {
  @OnPeerJoined() throws() { throw new Error('sync boom'); }
  @OnPeerJoined() async rejects() { throw new Error('async boom'); }
  @OnPeerJoined(() => { throw new Error('filter boom'); }) badFilter() { calls.push('never'); }
  @OnPeerJoined() throwsSymbol() { throw Symbol('sym boom'); }
  @OnPeerJoined() async rejectsBare() { throw Object.assign(Object.create(null), { code: 7 }); }
  @OnPeerJoined() throwsString() { throw 'a string'; }
}

let release!: () => void;
@Injectable()
class Slow {
  @OnPeerJoined() async slow(e: PresenceEvent) {
    await new Promise<void>((r) => (release = r));
    calls.push(`slow-done:${e.peer.id}`);
  }
}

@Injectable({ scope: Scope.REQUEST })
class RequestScoped {
  @OnPeerJoined() joined() { calls.push('request-scoped'); }
}

async function setup() {
  calls.length = 0;
  const ref = await Test.createTestingModule({
    imports: [HeartbeatModule.forRoot({ nodeId: 'local' })],
    providers: [Handlers, Faulty, Slow, RequestScoped],
  }).compile();
  const app = await ref.init();
  const ctx = createLinkContext(app.get(HEARTBEAT_RESOLVED_OPTIONS), app.get(HeartbeatTicker), app.get(PeerTable), new Logger('t'));
  return { app, join: (id: string, meta: Record<string, string> = {}) => scriptedPeer(ctx, id, meta) };
}

describe('@OnPeer* handlers', () => {
  let errors: string[];
  let warnings: string[];
  beforeEach(() => {
    errors = [];
    warnings = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => void errors.push(String(m)));
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
  });
  const afterTest: Array<() => void> = [];
  afterEach(() => {
    jest.restoreAllMocks();
    for (const undo of afterTest.splice(0)) undo();
  });

  it('fires each matching handler, for every filter form, stacking decorators', async () => {
    const { app, join } = await setup();
    join('orders-1', { service: 'orders' });
    join('billing-1', { service: 'billing', zone: 'b' });
    join('billing-2', { service: 'billing', zone: 'a' });
    await new Promise((r) => setImmediate(r));
    expect(calls.filter((c) => !c.startsWith('slow'))).toEqual([
      'any:orders-1', 'id:orders-1',
      'any:billing-1', 'meta:billing-1', 'both:billing-1',
      'any:billing-2', 'meta:billing-2', 'pred:billing-2',
    ]);
    await app.close();
  });

  it('a lost/left handler gets the contract payload', async () => {
    const { app, join } = await setup();
    const a = join('a', { service: 'x' });
    const b = join('b');
    a.link.onSocketError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    a.link.onTransportClosed();
    b.link.onFrame({ $hb: 'bye' }, 0);
    b.link.onTransportClosed();
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(expect.arrayContaining(['lost:a:connection-reset', 'left:b:']));
    await app.close();
  });

  it('a handler that throws or rejects is logged with class and method, and isolates nothing else', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    afterTest.push(() => process.off('unhandledRejection', onUnhandled));
    const { app, join } = await setup();
    join('p1');
    await new Promise((r) => setImmediate(r));
    expect(calls).toContain('any:p1');
    expect(calls).not.toContain('never');
    expect(errors.join('\n')).toMatch(/Faulty\.throws failed on "joined": sync boom/);
    expect(errors.join('\n')).toMatch(/Faulty\.rejects failed on "joined": async boom/);
    expect(errors.join('\n')).toMatch(/Faulty\.badFilter failed on "joined": filter boom/);
    // Anything may be thrown: a Symbol, an object without a prototype, a string. None ends the process.
    expect(errors.join('\n')).toMatch(/Faulty\.throwsSymbol failed on "joined": Symbol\(sym boom\)/);
    expect(errors.join('\n')).toMatch(/Faulty\.rejectsBare failed on "joined": \[object Object\]/);
    expect(errors.join('\n')).toMatch(/Faulty\.throwsString failed on "joined": a string/);
    expect(unhandled).toEqual([]);
    // detection goes on: the next event is delivered
    join('p2');
    await new Promise((r) => setImmediate(r));
    expect(calls).toContain('any:p2');
    await app.close();
  });

  it('awaits async handlers without blocking detection or other handlers', async () => {
    const { app, join } = await setup();
    join('p1');
    join('p2');
    expect(calls).toEqual(expect.arrayContaining(['any:p1', 'any:p2']));
    expect(calls.some((c) => c.startsWith('slow-done'))).toBe(false);
    release();
    await new Promise((r) => setImmediate(r));
    expect(calls).toContain('slow-done:p2');
    await app.close();
  });

  it('warns about, and skips, handlers on request-scoped providers', async () => {
    const { app, join } = await setup();
    join('p1');
    await new Promise((r) => setImmediate(r));
    expect(calls).not.toContain('request-scoped');
    expect(warnings.join('\n')).toMatch(/RequestScoped\.joined: its provider is request-scoped/);
    await app.close();
  });
});
