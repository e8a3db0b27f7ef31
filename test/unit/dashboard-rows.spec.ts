import { pageBase } from '../../src/dashboard/dashboard-assets.js';
import { diffBeats, diffRows, diffRowsById, peerRow, type Beat } from '../../src/dashboard/dashboard-rows.js';
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
    expect(diffRows(sent, [peerRow(info('a'), undefined), peerRow(info('b'), undefined)]).upsert.map((r) => r.id)).toEqual(['a', 'b']);
    expect(diffRows(sent, [peerRow(info('a'), undefined), peerRow(info('b'), undefined)])).toEqual({ upsert: [], remove: [] });
    const changed = diffRows(sent, [peerRow(info('a', { metadata: { v: '2' } }), undefined)]);
    expect(changed).toEqual({ upsert: [expect.objectContaining({ id: 'a', metadata: { v: '2' } })], remove: ['b'] });
    expect([...sent.keys()]).toEqual(['a']);
  });

  test('a lost row carries its reason; other statuses never do', () => {
    expect(peerRow(info('a', { status: 'lost' }), 'heartbeat-timeout').reason).toBe('heartbeat-timeout');
    expect(peerRow(info('a', { status: 'alive' }), 'heartbeat-timeout')).not.toHaveProperty('reason');
  });

  test('diffRowsById looks at the named rows only: changed, unchanged, gone', () => {
    const sent = new Map<string, string>();
    diffRows(sent, [peerRow(info('a'), undefined), peerRow(info('b'), undefined), peerRow(info('c'), undefined)]);
    const rows = new Map([['a', peerRow(info('a', { status: 'suspect' }), undefined)], ['b', peerRow(info('b'), undefined)]]);
    expect(diffRowsById(sent, ['a', 'b', 'x', 'c'], (id) => rows.get(id))).toEqual({
      upsert: [expect.objectContaining({ id: 'a', status: 'suspect' })], remove: ['c'],
    });
  });

  test('diffBeats: only peers whose last-heard time or RTT moved; forgets peers gone', () => {
    const sent = new Map<string, Beat>();
    expect(diffBeats(sent, [info('a', { rttMs: 1.234 }), info('b')])).toEqual([['a', 10, 1.23], ['b', 10, null]]);
    expect(diffBeats(sent, [info('a', { rttMs: 1.234 }), info('b', { lastSeenAt: 11 })])).toEqual([['b', 11, null]]);
    expect(diffBeats(sent, [info('b', { lastSeenAt: 11 })])).toEqual([]);
    expect([...sent.keys()]).toEqual(['b']);
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
