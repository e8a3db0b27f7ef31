/**
 * A `lost` or `left` peer stays in peers() and get() with that status until it joins again or
 * 60 s pass (API.md, Defaults). Real sockets, real time: one test waits the full minute for
 * both statuses at once, so the suite pays for it once.
 */
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { Closer, sleep, startServerApp, waitForEvent } from '../support/apps.js';
import { wireClient } from '../support/wire.js';

const RETENTION_MS = 60_000;
const closer = new Closer();
afterEach(async () => {
  await closer.closeAll();
  jest.restoreAllMocks();
});

test('lost and left peers are kept 60 s in peers() and get(), then dropped; one that joins again is not', async () => {
  jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  const server = closer.add(await startServerApp({ heartbeat: { intervalMs: 200 } }));
  const { presence } = server;
  const wires = await Promise.all(['ret-lost', 'ret-left', 'ret-back'].map((id) => wireClient(server.port, { id })));
  for (const w of wires) {
    closer.add({ close: () => w.socket.destroy() });
    w.answerPings();
  }
  const [lostWire, leftWire, backWire] = wires;
  lostWire.reset();
  leftWire.bye();
  backWire.end();
  const departed = await Promise.all([
    waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'ret-lost'),
    waitForEvent(server.events, (e) => e.type === 'left' && e.peer.id === 'ret-left'),
    waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'ret-back'),
  ]);
  const t0 = Date.now(); // every departure happened at or before this instant
  const tFirst = Math.min(...departed.map((e) => e.at));
  const back = await wireClient(server.port, { id: 'ret-back' });
  closer.add({ close: () => back.socket.destroy() });
  back.answerPings();

  const table = () => Object.fromEntries(presence.peers().map((p) => [p.id, p.status]));
  expect(table()).toEqual({ 'ret-lost': 'lost', 'ret-left': 'left', 'ret-back': 'alive' });

  // Just before the minute is up (measured from the earliest departure): all still there.
  await sleep(tFirst + RETENTION_MS - 2_000 - Date.now());
  expect(table()).toEqual({ 'ret-lost': 'lost', 'ret-left': 'left', 'ret-back': 'alive' });
  expect(presence.get('ret-lost')?.status).toBe('lost');
  expect(presence.get('ret-left')?.status).toBe('left');

  // Past the minute (from the latest departure, plus the once-a-second purge): gone.
  await sleep(t0 + RETENTION_MS + 1_500 - Date.now());
  expect(presence.get('ret-lost')).toBeUndefined();
  expect(presence.get('ret-left')).toBeUndefined();
  expect(table()).toEqual({ 'ret-back': 'alive' });
  expect(presence.isAlive('ret-back')).toBe(true);
}, 90_000);
