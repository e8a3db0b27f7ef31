/**
 * The PresenceService contract (API.md, Presence and Timing) against a real HeartbeatServer on
 * 127.0.0.1, driven by raw wire peers whose every frame the test chooses: peers$, watch(),
 * isAlive(), events$ (hot, never errors), each loss reason from a real socket event, and the
 * two halves of the heartbeat rule ("any frame received is a beat", "any outgoing frame counts").
 * Only the public API is used.
 */
import { jest } from '@jest/globals';
import { Injectable, Logger } from '@nestjs/common';
import { firstValueFrom } from 'rxjs';
import {
  OnPeerJoined, OnPeerLost, type HeartbeatClient, type PeerInfo, type PeerStatus, type PresenceEvent,
} from '../../src/index.js';
import { Closer, sleep, startClientApp, startServerApp, until, waitForEvent } from '../support/apps.js';
import { encode, WireServer, wireClient, type WireSocket } from '../support/wire.js';

const HB = { intervalMs: 100, missedBeats: 3 }; // suspect after 150 ms of silence, lost after 350 ms
const SUSPECT_MS = 1 * HB.intervalMs + HB.intervalMs / 2;
const LOST_MS = HB.missedBeats * HB.intervalMs + HB.intervalMs / 2;
const ping = (seq = 1) => encode({ $hb: 'ping', seq, t: Date.now() });
const note = (i: number) => encode({ pattern: 'note', data: { i } });

/** Handlers that throw and reject: detection, other handlers and events$ must go on. */
const handlerCalls: string[] = [];
@Injectable()
class FaultyHandlers {
  @OnPeerJoined() joined(e: PresenceEvent) {
    handlerCalls.push(`throwing-joined:${e.peer.id}`);
    throw new Error('handler bug (joined)');
  }
  @OnPeerLost() async lost(e: PresenceEvent) {
    handlerCalls.push(`rejecting-lost:${e.peer.id}`);
    throw new Error('handler bug (lost)');
  }
}
@Injectable()
class GoodHandlers {
  @OnPeerJoined() joined(e: PresenceEvent) { handlerCalls.push(`good-joined:${e.peer.id}`); }
  @OnPeerLost() lost(e: PresenceEvent) { handlerCalls.push(`good-lost:${e.peer.id}`); }
}

const closer = new Closer();
let server: Awaited<ReturnType<typeof startServerApp>>;
let errors: string[];

beforeEach(async () => {
  handlerCalls.length = 0;
  errors = [];
  jest.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => { errors.push(String(m)); });
  jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  server = closer.add(await startServerApp({ nodeId: 'server', heartbeat: HB }, { providers: [FaultyHandlers, GoodHandlers] }));
});
afterEach(async () => {
  await closer.closeAll();
  jest.restoreAllMocks();
});

/** Drives a joined raw peer through alive → suspect → recovered → suspect → lost (heartbeat-timeout). */
async function suspectRecoverLose(wire: WireSocket, id: string) {
  const events = server.events;
  await waitForEvent(events, (e) => e.type === 'suspect' && e.peer.id === id, 5_000); // silent: no pongs, no pings
  // Changes closer together than a few ms may be coalesced into one table; these are 50 ms apart.
  await sleep(50);
  wire.write(ping());
  await waitForEvent(events, (e) => e.type === 'recovered' && e.peer.id === id, 5_000);
  await waitForEvent(events, (e) => e.type === 'lost' && e.peer.id === id, 5_000);
}

/** Consecutive duplicates removed. */
const runs = <T>(xs: T[]) => xs.filter((x, i) => i === 0 || x !== xs[i - 1]);

describe('peers$', () => {
  test('replays the current table to each new subscriber and emits after each change', async () => {
    const { presence } = server;
    const early: PeerInfo[][] = [];
    closer.add({ close: () => sub.unsubscribe() });
    const sub = presence.peers$.subscribe((t) => early.push(t));
    await until(() => early.length >= 1, 1_000, 'the first table');
    expect(early[0]).toEqual([]); // replayed at once: the (empty) current table

    const wire = await wireClient(server.port, { id: 'p1', meta: { role: 'a' } });
    closer.add({ close: () => wire.socket.destroy() });
    await suspectRecoverLose(wire, 'p1');
    await until(() => early.at(-1)?.find((p) => p.id === 'p1')?.status === 'lost', 1_000, 'peers$ to show p1 lost');
    const statuses = runs(early.map((t) => t.find((p) => p.id === 'p1')?.status ?? 'absent'));
    expect(statuses).toEqual(['absent', 'alive', 'suspect', 'alive', 'suspect', 'lost']);
    expect(early.at(-1)!.find((p) => p.id === 'p1')).toMatchObject({ id: 'p1', metadata: { role: 'a' }, direction: 'inbound', managed: true });

    // A subscriber arriving now gets the current table first, without waiting for a change.
    const late: PeerInfo[][] = [];
    const lateSub = presence.peers$.subscribe((t) => late.push(t));
    await sleep(50);
    lateSub.unsubscribe();
    expect(late).toHaveLength(1);
    expect(late[0].map((p) => [p.id, p.status])).toEqual([['p1', 'lost']]);
  });
});

describe('watch(id)', () => {
  test('current status first when known, then each distinct change, nothing repeated', async () => {
    const { presence } = server;
    const before: PeerStatus[] = [];
    const s1 = presence.watch('p2').subscribe((s) => before.push(s));
    closer.add({ close: () => s1.unsubscribe() });
    await sleep(50);
    expect(before).toEqual([]); // unknown peer: nothing to report yet

    const wire = await wireClient(server.port, { id: 'p2' });
    closer.add({ close: () => wire.socket.destroy() });
    await until(() => before.length >= 1, 2_000, 'alive');
    // Subscribed while alive: its first value is the current status.
    const whileAlive: PeerStatus[] = [];
    const s2 = presence.watch('p2').subscribe((s) => whileAlive.push(s));
    closer.add({ close: () => s2.unsubscribe() });
    expect(whileAlive).toEqual(['alive']);
    // A second link of the same peer changes nothing: no repeated 'alive'.
    const second = await wireClient(server.port, { id: 'p2' });
    second.socket.destroy(); // and its loss changes nothing either: the first link is still up
    await sleep(50);
    expect(whileAlive).toEqual(['alive']);

    await suspectRecoverLose(wire, 'p2');
    await sleep(50);
    expect(before).toEqual(['alive', 'suspect', 'alive', 'suspect', 'lost']);
    expect(whileAlive).toEqual(['alive', 'suspect', 'alive', 'suspect', 'lost']);
    const after: PeerStatus[] = [];
    presence.watch('p2').subscribe((s) => after.push(s)).unsubscribe();
    expect(after).toEqual(['lost']);
  });
});

describe('isAlive', () => {
  test('true for alive and suspect; false for lost, left and unknown peers', async () => {
    const { presence } = server;
    expect(presence.isAlive('nobody')).toBe(false);
    const a = await wireClient(server.port, { id: 'alive-one' });
    const b = await wireClient(server.port, { id: 'leaving-one' });
    closer.add({ close: () => { a.socket.destroy(); b.socket.destroy(); } });
    b.answerPings();
    expect(presence.isAlive('alive-one')).toBe(true);
    // Checked in the same tick as the suspect event: the status cannot move in between.
    const atSuspect = new Promise<[PeerStatus | undefined, boolean]>((resolve) => {
      const sub = presence.events$.subscribe((e) => {
        if (e.type === 'suspect' && e.peer.id === 'alive-one') {
          sub.unsubscribe();
          resolve([presence.get('alive-one')?.status, presence.isAlive('alive-one')]);
        }
      });
    });
    expect(await atSuspect).toEqual(['suspect', true]);
    await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'alive-one');
    expect(presence.get('alive-one')?.status).toBe('lost');
    expect(presence.isAlive('alive-one')).toBe(false);
    b.bye();
    await waitForEvent(server.events, (e) => e.type === 'left' && e.peer.id === 'leaving-one');
    expect(presence.get('leaving-one')?.status).toBe('left');
    expect(presence.isAlive('leaving-one')).toBe(false);
  });
});

describe('events$', () => {
  test('hot: a late subscriber gets no past events; it never errors, even when handlers throw or reject', async () => {
    const { presence } = server;
    const early = { events: [] as PresenceEvent[], error: undefined as unknown, completed: false };
    const s1 = presence.events$.subscribe({ next: (e) => early.events.push(e), error: (e) => (early.error = e), complete: () => (early.completed = true) });
    closer.add({ close: () => s1.unsubscribe() });
    const first = await wireClient(server.port, { id: 'h1' });
    closer.add({ close: () => first.socket.destroy() });
    await waitForEvent(early.events, (e) => e.type === 'joined' && e.peer.id === 'h1');

    const late: PresenceEvent[] = [];
    const s2 = presence.events$.subscribe({ next: (e) => late.push(e), error: (e) => (early.error = e) });
    closer.add({ close: () => s2.unsubscribe() });
    await sleep(50);
    expect(late).toEqual([]); // nothing replayed

    // Handlers threw on h1's join; the next peer still joins, is lost, and everyone hears it.
    first.answerPings();
    const second = await wireClient(server.port, { id: 'h2' });
    second.reset();
    await waitForEvent(late, (e) => e.type === 'lost' && e.peer.id === 'h2');
    expect(late.map((e) => [e.type, e.peer.id])).toEqual([['joined', 'h2'], ['lost', 'h2']]);
    expect(early.events.map((e) => [e.type, e.peer.id])).toEqual([['joined', 'h1'], ['joined', 'h2'], ['lost', 'h2']]);
    expect(early.error).toBeUndefined();
    expect(early.completed).toBe(false);
    await sleep(20); // the rejected promise's log
    expect(handlerCalls).toEqual(expect.arrayContaining([
      'throwing-joined:h1', 'good-joined:h1', 'throwing-joined:h2', 'good-joined:h2', 'rejecting-lost:h2', 'good-lost:h2',
    ]));
    expect(errors.filter((m) => /handler bug|FaultyHandlers/.test(m)).length).toBeGreaterThanOrEqual(3);
    // Detection went on: h1, answering pings, is still alive.
    expect(presence.get('h1')?.status).toBe('alive');
  });
});

describe('loss reasons from real socket events', () => {
  test.each([
    ['connection-reset', 'an RST (resetAndDestroy)', (w: WireSocket) => w.reset()],
    ['closed-without-goodbye', 'a FIN without bye', (w: WireSocket) => w.end()],
    ['protocol-error', 'invalid JSON after the handshake', (w: WireSocket) => w.write('12#{not json!!}')],
    ['heartbeat-timeout', 'silence', (_w: WireSocket) => undefined],
  ])('server side: %s from %s', async (reason, _how, act) => {
    const wire = await wireClient(server.port, { id: `r-${reason}` });
    closer.add({ close: () => wire.socket.destroy() });
    wire.answerPings();
    await sleep(2 * HB.intervalMs);
    act(wire);
    if (reason === 'heartbeat-timeout') wire.answerPings(false);
    const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === `r-${reason}`, 5_000);
    expect(lost.reason).toBe(reason);
    expect(lost.peer.status).toBe('lost');
    expect(server.events.filter((e) => e.peer.id === `r-${reason}` && (e.type === 'lost' || e.type === 'left'))).toHaveLength(1);
  });

  test.each([
    ['connection-reset', 'an RST from the server', (w: WireSocket) => w.reset()],
    ['closed-without-goodbye', 'a FIN without bye from the server', (w: WireSocket) => w.end()],
    ['protocol-error', 'invalid JSON from the server', (w: WireSocket) => w.write('12#{not json!!}')],
    // A reject belongs to the handshake: on an open link it is a protocol error, not an auth failure.
    ['protocol-error', 'a reject (auth-failed) from the server on an open link', (w: WireSocket) => w.write(encode({ $hb: 'reject', reason: 'auth-failed', message: 'token revoked' }))],
  ])('client side: %s from %s', async (reason, _how, act) => {
    const raw = new WireServer(`raw-${reason}`);
    closer.add(raw);
    const port = await raw.listen();
    const client = closer.add(await startClientApp({
      nodeId: 'client', heartbeat: HB, clients: [{ name: 'S', port, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } }],
    }));
    await client.app.get<HeartbeatClient>('S').connect();
    const link = await raw.link();
    link.answerPings();
    await waitForEvent(client.events, (e) => e.type === 'joined' && e.peer.id === `raw-${reason}`);
    act(link);
    const lost = await waitForEvent(client.events, (e) => e.type === 'lost' && e.peer.id === `raw-${reason}`, 5_000);
    expect(lost.reason).toBe(reason);
  });
});

describe('the heartbeat rule', () => {
  test('any frame received is a beat: a peer sending only data frames, never a ping or pong, stays alive', async () => {
    const wire = await wireClient(server.port, { id: 'data-only' });
    closer.add({ close: () => wire.socket.destroy() });
    const t0 = Date.now();
    let i = 0;
    const timer = setInterval(() => wire.write(note(i++)), HB.intervalMs / 2);
    closer.add({ close: () => clearInterval(timer) });
    await sleep(10 * LOST_MS);
    clearInterval(timer);
    const events = server.events.filter((e) => e.peer.id === 'data-only').map((e) => e.type);
    expect(events).toEqual(['joined']);
    expect(wire.count('ping')).toBeGreaterThan(0); // the server did ping it: silence would have been noticed
    expect(wire.frames.filter((f) => f.frame.$hb === undefined)).toEqual([]); // events get no reply
    // The control: once the data stops, the same peer is suspect, then lost.
    const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'data-only', 5_000);
    expect(lost.reason).toBe('heartbeat-timeout');
    expect(lost.at - t0).toBeGreaterThan(10 * LOST_MS);
    expect(server.events.filter((e) => e.peer.id === 'data-only').map((e) => e.type)).toEqual(['joined', 'suspect', 'lost']);
  });

  test('any outgoing frame counts: a client that keeps sending data sends no pings; idle, it pings again', async () => {
    const client = closer.add(await startClientApp({ nodeId: 'chatty', heartbeat: HB, clients: [{ name: 'S', port: server.port }] }));
    const s = client.app.get<HeartbeatClient>('S');
    await s.connect();
    await firstValueFrom(s.send('echo', 'warm-up'));
    let i = 0;
    const timer = setInterval(() => s.emit('note', { i: i++ }), HB.intervalMs / 3);
    closer.add({ close: () => clearInterval(timer) });
    await sleep(HB.intervalMs); // the emits are flowing
    const pingsBefore = client.presence.get('server')!.stats.pingsSent;
    await sleep(20 * HB.intervalMs);
    const pingsDuring = client.presence.get('server')!.stats.pingsSent - pingsBefore;
    clearInterval(timer);
    // Idle, the link beats about once an interval again: a ping from whichever side's interval
    // runs out first (the other side's pong is an outgoing frame too, so it need not ping).
    const linkPings = () => client.presence.get('server')!.stats.pingsSent + server.presence.get('chatty')!.stats.pingsSent;
    const idleFrom = linkPings();
    await sleep(6 * HB.intervalMs);
    const pingsIdle = linkPings() - idleFrom;
    expect(i).toBeGreaterThan(40);
    expect(pingsDuring).toBe(0);
    expect(pingsIdle).toBeGreaterThanOrEqual(3); // the control: idle, the link pings about once an interval
    expect(server.presence.get('chatty')?.status).toBe('alive');
  });
});
