/**
 * Options read back from the wire and the kernel: keepalive `enabled: false` and
 * `noDelay: false` on the live sockets of both sides (getsockopt), and the default
 * `maxFrameBytes` of 4 MiB, exactly at and one unit over the limit.
 */
import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type { Server, Socket } from 'node:net';
import { firstValueFrom } from 'rxjs';
import type { HeartbeatClient } from '../../src/index.js';
import { Closer, startClientApp, startServerApp, until, waitForEvent } from '../support/apps.js';
import { readSocketOptions } from '../support/sockopt.js';
import { wireClient } from '../support/wire.js';

const MIB4 = 4 * 1024 * 1024;
const closer = new Closer();
afterEach(async () => {
  await closer.closeAll();
  jest.restoreAllMocks();
});

const isLinux = process.platform === 'linux';
(isLinux ? test : test.skip)('keepAlive { enabled: false, noDelay: false }: SO_KEEPALIVE and TCP_NODELAY off on both live sockets', async () => {
  const keepAlive = { enabled: false, noDelay: false };
  const server = closer.add(await startServerApp({ keepAlive, heartbeat: { intervalMs: 100 } }));
  const accepted: Socket[] = [];
  server.server.unwrap<Server>().on('connection', (s: Socket) => accepted.push(s));
  const client = closer.add(await startClientApp({ keepAlive, heartbeat: { intervalMs: 100 }, clients: [{ name: 'S', port: server.port }] }));
  const s = client.app.get<HeartbeatClient>('S');
  await firstValueFrom(s.send('echo', 1));
  await until(() => server.presence.get('client')?.status === 'alive', 2_000, 'client alive');
  expect(accepted).toHaveLength(1);
  for (const socket of [accepted[0], s.unwrap<Socket>()]) {
    expect(readSocketOptions(socket)).toMatchObject({ keepAlive: false, noDelay: false });
  }
  // The control: the defaults turn both on.
  const defaults = closer.add(await startClientApp({ nodeId: 'defaults', clients: [{ name: 'S', port: server.port }] }));
  const d = defaults.app.get<HeartbeatClient>('S');
  await firstValueFrom(d.send('echo', 2));
  expect(readSocketOptions(d.unwrap<Socket>())).toMatchObject({ keepAlive: true, noDelay: true });
  expect(readSocketOptions(accepted[1])).toMatchObject({ keepAlive: false, noDelay: false });
});

describe('default maxFrameBytes (4 MiB)', () => {
  /** A data frame whose length prefix is exactly `length` (JSON length in UTF-16 units, as Nest counts). */
  function frameOfLength(length: number, id: string): string {
    const bare = JSON.stringify({ pattern: 'echo', data: '', id });
    const json = JSON.stringify({ pattern: 'echo', data: 'x'.repeat(length - bare.length), id });
    expect(json.length).toBe(length);
    return `${json.length}#${json}`;
  }

  test('a frame of exactly 4 MiB is served; one of 4 MiB + 1 closes that link (protocol-error), the server goes on', async () => {
    const warnings: string[] = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => { warnings.push(String(m)); });
    const server = closer.add(await startServerApp({ heartbeat: { intervalMs: 200 } }));

    const ok = await wireClient(server.port, { id: 'at-limit' });
    closer.add({ close: () => ok.socket.destroy() });
    ok.answerPings();
    ok.write(frameOfLength(MIB4, 'big-1'));
    const reply = await ok.waitFor((f) => f.id === 'big-1' && 'response' in f, 15_000, 'the reply to a 4 MiB frame');
    expect(reply.frame.response).toHaveLength(MIB4 - JSON.stringify({ pattern: 'echo', data: '', id: 'big-1' }).length);
    expect(server.presence.get('at-limit')?.status).toBe('alive');

    const over = await wireClient(server.port, { id: 'over-limit' });
    closer.add({ close: () => over.socket.destroy() });
    over.answerPings();
    over.write(frameOfLength(MIB4 + 1, 'big-2'));
    const lost = await waitForEvent(server.events, (e) => e.type === 'lost' && e.peer.id === 'over-limit', 15_000);
    expect(lost.reason).toBe('protocol-error');
    await over.closed;
    expect(over.frames.some((f) => f.frame.id === 'big-2')).toBe(false); // never dispatched
    expect(warnings.some((w) => /exceeds maxFrameBytes 4194304/.test(w) && /protocol-error/.test(w))).toBe(true);
    // The other link is untouched.
    expect(server.presence.get('at-limit')?.status).toBe('alive');
    expect(ok.closedAt).toBeUndefined();
  }, 60_000);
});
