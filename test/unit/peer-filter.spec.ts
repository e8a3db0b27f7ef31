import type { PeerInfo } from '../../src/interfaces/presence.interface.js';
import { matchesPeer } from '../../src/presence/peer-filter.js';

const peer = { id: 'orders-1', metadata: { service: 'orders', zone: 'a' } } as unknown as PeerInfo;

describe('peer filters', () => {
  it.each([
    ['no filter', undefined, true],
    ['matching id string', 'orders-1', true],
    ['other id string', 'billing-1', false],
    ['{ id } matching', { id: 'orders-1' }, true],
    ['{ id } other', { id: 'x' }, false],
    ['{ metadata } subset', { metadata: { service: 'orders' } }, true],
    ['{ metadata } mismatch', { metadata: { service: 'billing' } }, false],
    ['{ metadata } key missing', { metadata: { region: 'eu' } }, false],
    ['{ id, metadata } both match', { id: 'orders-1', metadata: { zone: 'a' } }, true],
    ['{ id, metadata } id mismatch', { id: 'x', metadata: { zone: 'a' } }, false],
    ['predicate true', (p: PeerInfo) => p.id.startsWith('orders'), true],
    ['predicate false', (p: PeerInfo) => p.metadata.zone === 'b', false],
  ] as const)('%s', (_what, filter, expected) => {
    expect(matchesPeer(filter as never, peer)).toBe(expected);
  });
});
