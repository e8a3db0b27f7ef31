import { ClusterView, type PeerEntry } from '../../src/cluster/cluster-view.js';

/** The merge and its events on virtual time: `now` is just a number we move. */
const SELF = { id: 'S/1', nodeId: 'S', metadata: {}, startedAt: 0 };
const opts = { hopGraceMs: 1000, probationMs: 1200, retentionMs: 60_000 };
const entry = (status: PeerEntry['status'], since: number, extra: Partial<PeerEntry> = {}): PeerEntry =>
  ({ status, direction: 'inbound', address: '127.0.0.1:1', metadata: { role: 'x' }, since, ...extra });
const brief = (events: Array<{ type: string; peer: { id: string }; reason?: string; replicaId?: string }>) =>
  events.map((e) => `${e.type} ${e.peer.id}${e.reason ? ` ${e.reason}` : ''}${e.replicaId ? ` @${e.replicaId}` : ''}`);

function world() {
  const view = new ClusterView(SELF, opts);
  view.upsertReplica({ id: 'A/1', nodeId: 'A', metadata: {}, startedAt: 0 });
  view.upsertReplica({ id: 'B/1', nodeId: 'B', metadata: {}, startedAt: 0 });
  return view;
}

it('joined once when a peer is first seen anywhere; merged status is the best of the replicas', () => {
  const view = world();
  expect(brief(view.setPeer('A/1', 'p', entry('suspect', 10), 10))).toEqual(['joined p @A/1']);
  expect(view.get('p')?.status).toBe('suspect');
  expect(view.setPeer('B/1', 'p', entry('alive', 20), 20)).toEqual([]);
  expect(view.get('p')).toMatchObject({ status: 'alive', since: 10, metadata: { role: 'x' } });
  expect(view.get('p')!.replicas.map((r) => `${r.replicaId}:${r.status}`)).toEqual(['A/1:suspect', 'B/1:alive']);
  expect(view.isAlive('p')).toBe(true);
});

it('a peer lost on A that shows up on B within the hop grace makes no event; merged status is suspect meanwhile', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  expect(view.setPeer('A/1', 'p', entry('lost', 100, { reason: 'closed-without-goodbye' }), 100)).toEqual([]);
  expect(view.get('p')?.status).toBe('suspect');
  expect(view.tick(900).events).toEqual([]);
  expect(view.setPeer('B/1', 'p', entry('alive', 950), 950)).toEqual([]);
  expect(view.tick(5000).events).toEqual([]);
  expect(view.get('p')?.status).toBe('alive');
});

it('a peer lost on its only replica is lost for the cluster when the hop grace ends, with its reason', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  view.setPeer('A/1', 'p', entry('lost', 100, { reason: 'heartbeat-timeout' }), 100);
  expect(view.tick(1099).events).toEqual([]);
  expect(view.nextDeadline()).toBe(1100);
  expect(brief(view.tick(1100).events)).toEqual(['lost p heartbeat-timeout @A/1']);
  expect(view.tick(2000).events).toEqual([]);
  expect(view.get('p')?.status).toBe('lost');
  expect(view.isAlive('p')).toBe(false);
  expect(brief(view.setPeer('B/1', 'p', entry('alive', 3000), 3000))).toEqual(['joined p @B/1']);
});

it('a goodbye is reported left at once, unless another replica still has the peer', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  view.setPeer('B/1', 'q', entry('alive', 0), 0);
  view.setPeer('A/1', 'q', entry('alive', 0), 0);
  expect(brief(view.setPeer('A/1', 'p', entry('left', 10), 10))).toEqual(['left p @A/1']);
  expect(view.setPeer('A/1', 'q', entry('left', 10), 10)).toEqual([]);
  expect(view.get('q')?.status).toBe('alive');
});

it('a reaped replica: its peers lost (replica-lost) once, except those another replica has; a second reap is a no-op', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  view.setPeer('A/1', 'q', entry('alive', 0), 0);
  view.setPeer('B/1', 'q', entry('alive', 0), 0);
  const change = view.removeReplica('A/1', 'reaped', 500);
  expect(brief(change.events)).toEqual(['lost p replica-lost @A/1']);
  expect(change.replicasLost).toEqual([{ replica: expect.objectContaining({ id: 'A/1', self: false }), peerIds: ['p', 'q'] }]);
  expect(view.removeReplica('A/1', 'reaped', 600)).toEqual({ events: [], replicasLost: [] });
  expect(view.replicaInfos().map((r) => r.id)).toEqual(['S/1', 'B/1']);
  expect(view.get('q')?.status).toBe('alive');
});

it('a replica that leaves gracefully hands its peers over: suspect for the grace, a hop makes no event, a stranded peer is lost (replica-left)', () => {
  const view = world();
  view.setPeer('A/1', 'hopper', entry('alive', 0), 0);
  view.setPeer('A/1', 'stranded', entry('alive', 0), 0);
  view.setPeer('A/1', 'shared', entry('alive', 0), 0);
  view.setPeer('B/1', 'shared', entry('alive', 0), 0);
  const change = view.removeReplica('A/1', 'left', 10);
  expect(change).toEqual({ events: [], replicasLost: [] });
  expect(view.replicaInfos().map((r) => r.id)).toEqual(['S/1', 'B/1']);
  expect(view.get('hopper')).toMatchObject({ status: 'suspect', replicas: [] });
  expect(view.get('shared')?.status).toBe('alive');
  expect(view.setPeer('B/1', 'hopper', entry('alive', 400), 400)).toEqual([]);
  expect(view.tick(1009).events).toEqual([]);
  expect(brief(view.tick(1010).events)).toEqual(['lost stranded replica-left @A/1']);
  expect(view.tick(5000).events).toEqual([]);
  expect(view.get('hopper')?.status).toBe('alive');
  expect(view.get('stranded')?.status).toBe('lost');
});

it('a fenced replica\u2019s new incarnation takes over the old one\u2019s entries silently: no ghost, no event', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  view.setPeer('A/1', 'q', entry('alive', 0), 0);
  expect(view.supersede('A/1', { id: 'A/2', nodeId: 'A', metadata: {}, startedAt: 50 }, 50)).toEqual([]);
  expect(view.replicaInfos().map((r) => r.id)).toEqual(['S/1', 'B/1', 'A/2']);
  expect(view.get('p')?.replicas.map((r) => r.replicaId)).toEqual(['A/2']);
  // Its table (read next) no longer has q: q waits out the grace, then it is lost.
  expect(view.replacePeers('A/2', new Map([['p', entry('alive', 0)]]), 60)).toEqual([]);
  expect(brief(view.tick(1060).events)).toEqual(['lost q @A/2']);
  // The dead old incarnation\u2019s reap, if it ever comes, changes nothing.
  expect(view.removeReplica('A/1', 'reaped', 2000)).toEqual({ events: [], replicasLost: [] });
  expect(view.get('p')?.status).toBe('alive');
});

it('this replica is never removed by others\u2019 news, and keeps its entries silently when fenced', () => {
  const view = world();
  view.setPeer('S/1', 'p', entry('alive', 0), 0);
  expect(view.removeReplica('S/1', 'reaped', 10).events).toEqual([]);
  view.rekeySelf({ id: 'S/2', nodeId: 'S', metadata: {}, startedAt: 20 });
  expect(view.selfId).toBe('S/2');
  expect(view.get('p')?.replicas.map((r) => r.replicaId)).toEqual(['S/2']);
  expect(view.replicaInfos().find((r) => r.self)?.id).toBe('S/2');
});

it('a replica of unknown fate (Redis restarted empty) has probationMs to come back; its peers held elsewhere make no event', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  view.setPeer('B/1', 'q', entry('alive', 0), 0);
  view.putOnProbation(['A/1', 'B/1'], 1000);
  // A came back as a new incarnation with its table; B did not come back at all.
  view.upsertReplica({ id: 'A/2', nodeId: 'A', metadata: {}, startedAt: 1100 });
  expect(view.replacePeers('A/2', new Map([['p', entry('alive', 1100)]]), 1100)).toEqual([]);
  expect(view.tick(2199).events).toEqual([]);
  const change = view.tick(2200);
  expect(brief(change.events)).toEqual(['lost q replica-lost @B/1']);
  expect(change.replicasLost.map((l) => l.replica.id).sort()).toEqual(['A/1', 'B/1']);
  expect(view.get('p')?.status).toBe('alive');
});

it('a replica that re-registers under its old id ends its probation', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  view.putOnProbation(['A/1'], 0);
  view.upsertReplica({ id: 'A/1', nodeId: 'A', metadata: {}, startedAt: 0 });
  expect(view.tick(10_000)).toEqual({ events: [], replicasLost: [] });
});

it('resync: an entry missing from the snapshot is a loss (with the grace), a new one a join, an unchanged one nothing', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  view.setPeer('A/1', 'q', entry('alive', 0), 0);
  const events = view.replacePeers('A/1', new Map([['q', entry('alive', 0)], ['r', entry('alive', 50)]]), 100);
  expect(brief(events)).toEqual(['joined r @A/1']);
  expect(brief(view.tick(1100).events)).toEqual(['lost p @A/1']);
});

it('departed peers leave the table after the retention', () => {
  const view = world();
  view.setPeer('A/1', 'p', entry('alive', 0), 0);
  view.setPeer('A/1', 'p', entry('left', 10), 10);
  expect(view.peers().map((p) => p.id)).toEqual(['p']);
  view.tick(10 + 60_000);
  expect(view.peers()).toEqual([]);
  expect(view.entriesOf('A/1')?.size).toBe(0);
});

it('a departure of a peer never seen alive derives nothing', () => {
  const view = world();
  expect(view.setPeer('A/1', 'ghost', entry('lost', 0, { reason: 'heartbeat-timeout' }), 0)).toEqual([]);
  expect(view.get('ghost')).toBeUndefined();
});
