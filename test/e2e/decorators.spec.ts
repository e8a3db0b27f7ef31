/**
 * @OnPeerSuspect, @OnPeerRecovered, @OnPeerLost and @OnPeerLeft, each with every filter form
 * (none, a peer id, `{ id }`, `{ metadata }`, a predicate), on a provider of a real server app.
 * Two raw wire peers go through the same life (joined, suspect, recovered, lost; joined again,
 * left); a filtered handler must see exactly its peer's events of its type, an unfiltered one both peers'.
 */
import { Injectable } from '@nestjs/common';
import {
  OnPeerLeft, OnPeerLost, OnPeerRecovered, OnPeerSuspect, type PeerFilter, type PeerInfo, type PresenceEvent,
} from '../../src/index.js';
import { Closer, sleep, startServerApp, waitForEvent } from '../support/apps.js';
import { encode, wireClient } from '../support/wire.js';

const HB = { intervalMs: 100, missedBeats: 3 };
const DECORATORS = { suspect: OnPeerSuspect, recovered: OnPeerRecovered, lost: OnPeerLost, left: OnPeerLeft } as const;
const FILTERS: Record<string, PeerFilter | undefined> = {
  none: undefined,
  'peer id': 'dec-a',
  '{ id }': { id: 'dec-a' },
  '{ metadata }': { metadata: { role: 'a' } },
  '{ id, metadata } not both matching': { id: 'dec-a', metadata: { role: 'b' } },
  predicate: (p: PeerInfo) => p.metadata.role === 'a',
};

const calls: Array<{ handler: string; type: string; peer: string }> = [];

@Injectable()
class Watchers {}
// One method per decorator × filter form, decorated as a user would (the decorator applied to the method).
for (const [type, decorator] of Object.entries(DECORATORS)) {
  for (const [form, filter] of Object.entries(FILTERS)) {
    const key = `${type} / ${form}`;
    const method = function (this: Watchers, e: PresenceEvent) { calls.push({ handler: key, type: e.type, peer: e.peer.id }); };
    Object.defineProperty(Watchers.prototype, key, { value: method, writable: true, configurable: true });
    decorator(filter)(Watchers.prototype, key, Object.getOwnPropertyDescriptor(Watchers.prototype, key)!);
  }
}

const closer = new Closer();
afterEach(() => closer.closeAll());

test('each of the four decorators, with each filter form, sees exactly the events of the peers it matches', async () => {
  const server = closer.add(await startServerApp({ heartbeat: HB }, { providers: [Watchers] }));
  const life = async (id: string, role: string) => {
    const wire = await wireClient(server.port, { id, meta: { role } });
    closer.add({ close: () => wire.socket.destroy() });
    await waitForEvent(server.events, (e) => e.type === 'suspect' && e.peer.id === id); // silent
    await sleep(30);
    wire.write(encode({ $hb: 'ping', seq: 1, t: Date.now() }));
    await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === id); // silent again
    const again = await wireClient(server.port, { id, meta: { role } });
    closer.add({ close: () => again.socket.destroy() });
    again.bye();
    await waitForEvent(server.events, (e) => e.type === 'left' && e.peer.id === id);
  };
  await Promise.all([life('dec-a', 'a'), life('dec-b', 'b')]);
  await sleep(20);

  const seen = (handler: string) => calls.filter((c) => c.handler === handler).map((c) => `${c.type}:${c.peer}`).sort();
  const happened = (type: string, peers: string[]) =>
    server.events.filter((e) => e.type === type && peers.includes(e.peer.id)).map((e) => `${e.type}:${e.peer.id}`).sort();
  for (const type of Object.keys(DECORATORS)) {
    expect(happened(type, ['dec-a'])).not.toEqual([]);
    expect(happened(type, ['dec-b'])).not.toEqual([]);
    expect({ handler: `${type} / none`, seen: seen(`${type} / none`) }).toEqual({ handler: `${type} / none`, seen: happened(type, ['dec-a', 'dec-b']) });
    for (const form of ['peer id', '{ id }', '{ metadata }', 'predicate']) {
      expect({ handler: `${type} / ${form}`, seen: seen(`${type} / ${form}`) }).toEqual({ handler: `${type} / ${form}`, seen: happened(type, ['dec-a']) });
    }
    // Both keys of an object filter must match.
    expect(seen(`${type} / { id, metadata } not both matching`)).toEqual([]);
  }
});
