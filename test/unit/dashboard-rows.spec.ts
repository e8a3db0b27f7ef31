import { pageBase } from '../../src/dashboard/dashboard-assets.js';
import { allBeats, diffBeats, rttShown, type BeatState } from '../../src/dashboard/dashboard-beats.js';
import { diffRows, diffRowsById, peerRow } from '../../src/dashboard/dashboard-rows.js';
import { dashboardPath } from '../../src/dashboard/heartbeat-dashboard.module.js';
import type { PeerInfo } from '../../src/interfaces/presence.interface.js';

const info = (id: string, over: Partial<PeerInfo> = {}): PeerInfo => ({
  id, status: 'alive', direction: 'inbound', managed: true, address: '127.0.0.1:5000', metadata: {},
  connectedAt: 1, lastSeenAt: 10, stats: { pingsSent: 0, pongsReceived: 0, suspectCount: 0, reconnects: 0, controlBytesSent: 0, controlBytesReceived: 0 },
  ...over,
});

describe('the page rows', () => {
  test('diffRows sends a row again only when something in it changed, nested metadata included, and names the rows gone', () => {
    const sent = new Map<string, string>();
    expect(diffRows(sent, [peerRow(info('a'), 1, undefined), peerRow(info('b'), 1, undefined)]).upsert.map((r) => r.id)).toEqual(['a', 'b']);
    expect(diffRows(sent, [peerRow(info('a'), 1, undefined), peerRow(info('b'), 1, undefined)])).toEqual({ upsert: [], remove: [] });
    const changed = diffRows(sent, [peerRow(info('a', { metadata: { v: '2' } }), 1, undefined)]);
    expect(changed).toEqual({ upsert: [expect.objectContaining({ id: 'a', metadata: { v: '2' } })], remove: ['b'] });
    expect([...sent.keys()]).toEqual(['a']);
  });

  test('a lost row carries its reason; other statuses never do', () => {
    expect(peerRow(info('a', { status: 'lost' }), 1, 'heartbeat-timeout').reason).toBe('heartbeat-timeout');
    expect(peerRow(info('a', { status: 'alive' }), 1, 'heartbeat-timeout')).not.toHaveProperty('reason');
  });

  test('diffRowsById looks at the named rows only: changed, unchanged, gone', () => {
    const sent = new Map<string, string>();
    diffRows(sent, [peerRow(info('a'), 1, undefined), peerRow(info('b'), 1, undefined), peerRow(info('c'), 1, undefined)]);
    const rows = new Map([['a', peerRow(info('a', { status: 'suspect' }), 1, undefined)], ['b', peerRow(info('b'), 1, undefined)]]);
    expect(diffRowsById(sent, ['a', 'b', 'x', 'c'], (id) => rows.get(id))).toEqual({
      upsert: [expect.objectContaining({ id: 'a', status: 'suspect' })], remove: ['c'],
    });
  });

});

describe('the pulse', () => {
  const keys = new Map([['a', 1], ['b', 2], ['c', 3]]);
  const keyOf = (id: string) => keys.get(id);

  test('a peer heard lately costs nothing while it stays so; its exact last-heard time goes out when it falls silent', () => {
    const sent = new Map<string, BeatState>();
    // First sight: a and b heard lately, c silent for 5 s; the new peers' RTTs at once, to two significant digits.
    expect(diffBeats(sent, [info('a', { lastSeenAt: 9_500, rttMs: 2.7734 }), info('b', { lastSeenAt: 9_900 }), info('c', { lastSeenAt: 5_000, rttMs: 0.3456 })], keyOf, 10_000, 1500, false))
      .toEqual({ at: 10_000, heard: [1, 2], silent: [3, 5000], rtt: [1, 2.8, 3, 0.35] });
    // A second later a and b were heard again, a's RTT moved (not an RTT round): nothing to say.
    expect(diffBeats(sent, [info('a', { lastSeenAt: 10_700, rttMs: 3.51 }), info('b', { lastSeenAt: 10_900 }), info('c', { lastSeenAt: 5_000, rttMs: 0.3456 })], keyOf, 11_000, 1500, false))
      .toEqual({ at: 11_000, heard: [], silent: [] });
    // a goes quiet (2.1 s), b is lost, c is heard again; an RTT round: a's new RTT, c's unchanged one not.
    expect(diffBeats(sent, [info('a', { lastSeenAt: 10_700, rttMs: 3.51 }), info('b', { lastSeenAt: 10_900, status: 'lost' }), info('c', { lastSeenAt: 12_700, rttMs: 0.349 })], keyOf, 12_800, 1500, true))
      .toEqual({ at: 12_800, heard: [3], silent: [1, 2100, 2, 1900], rtt: [1, 3.5] });
    // An RTT round with no change still says so (the page takes a sparkline sample).
    expect(diffBeats(sent, [info('a', { lastSeenAt: 10_700, rttMs: 3.51 })], keyOf, 13_800, 1500, true)).toEqual({ at: 13_800, heard: [], silent: [], rtt: [] });
  });

  test('peers without a row are left out and forgotten; allBeats tells a new page everything from nothing', () => {
    const sent = new Map<string, BeatState>();
    diffBeats(sent, [info('a', { lastSeenAt: 9_500, rttMs: 3 }), info('x'), info('c', { lastSeenAt: 1_000 })], keyOf, 10_000, 1500, true);
    expect([...sent.keys()]).toEqual(['a', 'c']);
    expect(allBeats(sent, keyOf, 10_500)).toEqual({ at: 10_500, heard: [1], silent: [3, 9500], rtt: [1, 3] });
    diffBeats(sent, [info('c', { lastSeenAt: 1_000 })], keyOf, 11_000, 1500, true);
    expect([...sent.keys()]).toEqual(['c']);
    expect(rttShown(123.4)).toBe(120);
    expect(rttShown(undefined)).toBeNull();
  });
});

describe('the page address', () => {
  test.each([
    ['/heartbeat', 'heartbeat', './heartbeat/'],
    ['/api/ops/heartbeat?x=1', 'heartbeat', './heartbeat/'],
    ['/api/ops/heartbeat/', 'heartbeat', './'],
    ['/', '', './'],
    ['/api', '', './api/'],
    ['/weird%20seg', '', './'],
  ])('%s (configured segment "%s") links its files at %s', (url, segment, base) => {
    expect(pageBase(url, segment)).toBe(base);
  });

  test('dashboardPath normalizes slashes and refuses anything but unreserved URL characters', () => {
    expect(dashboardPath()).toBe('/heartbeat');
    expect(dashboardPath('ops//presence/')).toBe('/ops/presence');
    expect(dashboardPath('/')).toBe('');
    for (const bad of ['/a b', '/:id', '/*', '/a/../b', '/é', '/a?b']) expect(() => dashboardPath(bad)).toThrow(/option "path"/);
  });
});
