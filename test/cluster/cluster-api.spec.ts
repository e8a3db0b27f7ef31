/**
 * The public API a user holds, `PresenceService.cluster`, against real Redis: this process runs
 * the module (an observer replica without peers of its own), two replica processes hold real
 * peers, one of them also held by both. What a user would check: `peers$` replayed to a late
 * subscriber, `replicas$`, `events$`, `replicaLost$`, `get()`, `isAlive()`, and a peer held by two
 * replicas surviving the reap of one.
 */
import { Test } from '@nestjs/testing';
import { firstValueFrom, filter, timeout } from 'rxjs';
import {
  HeartbeatModule, PresenceService, type ClusterPeerInfo, type ClusterPresence, type ClusterPresenceEvent, type ReplicaInfo, type ReplicaLostEvent,
} from '../../src/index.js';
import { clusterRig, connectPeers, LEASE_TTL_MS, RENEW_INTERVAL_MS, sleep, startReplicas } from './support/rig.js';

const rig = clusterRig('api');

const byId = (peers: ClusterPeerInfo[]) => Object.fromEntries(peers.map((p) => [p.id, p]));

it('peers$ (replayed), replicas$, events$, replicaLost$, get() and isAlive() of PresenceService.cluster; a peer held by two replicas survives the reap of one', async () => {
  const namespace = rig.ns();
  const ref = await Test.createTestingModule({
    imports: [HeartbeatModule.forRoot({ nodeId: 'X', cluster: { redis: rig.redis.url, namespace, leaseTtlMs: LEASE_TTL_MS, renewIntervalMs: RENEW_INTERVAL_MS } })],
  }).compile();
  const app = await ref.init();
  try {
    const cluster: ClusterPresence = app.get(PresenceService).cluster!;
    const events: ClusterPresenceEvent[] = [];
    const lostReplicas: ReplicaLostEvent[] = [];
    const subs = [cluster.events$.subscribe((e) => events.push(e)), cluster.replicaLost$.subscribe((e) => lostReplicas.push(e))];
    expect(await firstValueFrom(cluster.status$)).toBe('connected');

    const [a, b] = await startReplicas(rig.redis.url, namespace, ['A', 'B']);
    await connectPeers(rig.swarm, a, ['shared', 'only-a']);
    await connectPeers(rig.swarm, b, ['shared', 'only-b']);
    await firstValueFrom(cluster.peers$.pipe(filter((peers) => peers.length === 3 && peers.every((p) => p.replicas.length > 0)
      && byId(peers).shared?.replicas.length === 2), timeout(10_000)));

    // A late subscriber gets the current table at once.
    const replayed = byId(await firstValueFrom(cluster.peers$));
    expect(Object.keys(replayed).sort()).toEqual(['only-a', 'only-b', 'shared']);
    expect(replayed.shared).toMatchObject({ status: 'alive', metadata: { swarm: 'yes' } });
    expect(replayed.shared.replicas.map((r) => r.replicaId).sort()).toEqual([a.id, b.id].sort());
    expect(replayed['only-a'].replicas).toEqual([expect.objectContaining({ replicaId: a.id, status: 'alive', direction: 'inbound' })]);
    const replicas: ReplicaInfo[] = await firstValueFrom(cluster.replicas$);
    expect(replicas.map((r) => `${r.nodeId}:${r.self}`).sort()).toEqual(['A:false', 'B:false', 'X:true']);
    expect(cluster.get('shared')?.status).toBe('alive');
    expect(cluster.get('nobody')).toBeUndefined();
    expect(['shared', 'only-a', 'only-b', 'nobody'].map((id) => cluster.isAlive(id))).toEqual([true, true, true, false]);
    expect(events.filter((e) => e.type === 'joined').map((e) => e.peer.id).sort()).toEqual(['only-a', 'only-b', 'shared']);

    // A dies: only-a is lost (replica-lost) once; shared lives on through B.
    const killedAt = Date.now();
    a.proc.signal('SIGKILL');
    const lost = await firstValueFrom(cluster.events$.pipe(filter((e) => e.type === 'lost'), timeout(LEASE_TTL_MS + RENEW_INTERVAL_MS + 3000)));
    expect(lost).toMatchObject({ type: 'lost', reason: 'replica-lost', replicaId: a.id, peer: { id: 'only-a', status: 'lost' } });
    expect(lost.at - killedAt).toBeLessThanOrEqual(LEASE_TTL_MS + RENEW_INTERVAL_MS + 600);
    await sleep(LEASE_TTL_MS / 2); // a second reaper's duplicate would come now
    expect(events.filter((e) => e.at >= killedAt).map((e) => `${e.type} ${e.peer.id}`)).toEqual(['lost only-a']);
    expect(lostReplicas).toEqual([expect.objectContaining({ type: 'replica-lost', replica: expect.objectContaining({ id: a.id }), peerIds: expect.arrayContaining(['shared', 'only-a']) })]);
    expect(cluster.isAlive('shared')).toBe(true);
    expect(cluster.get('shared')?.replicas.map((r) => r.replicaId)).toEqual([b.id]);
    expect(cluster.isAlive('only-a')).toBe(false);
    expect(cluster.get('only-a')?.status).toBe('lost');
    expect((await firstValueFrom(cluster.replicas$)).map((r) => r.nodeId).sort()).toEqual(['B', 'X']);
    for (const sub of subs) sub.unsubscribe();
  } finally {
    await app.close();
  }
});
