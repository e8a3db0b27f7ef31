import { jest } from '@jest/globals';
import { Injectable, Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Subject } from 'rxjs';
import { CLUSTER_PRESENCE } from '../../src/common/heartbeat.constants.js';
import {
  HeartbeatModule, OnClusterPeerJoined, OnClusterPeerLeft, OnClusterPeerLost, OnPeerJoined, OnReplicaLost, PresenceService,
  type ClusterPresenceEvent, type ReplicaLostEvent,
} from '../../src/index.js';

const calls: string[] = [];

@Injectable()
class Handlers {
  @OnClusterPeerJoined() joined(e: ClusterPresenceEvent) { calls.push(`joined:${e.peer.id}`); }
  @OnClusterPeerJoined({ metadata: { service: 'billing' } }) billing(e: ClusterPresenceEvent) { calls.push(`billing:${e.peer.id}`); }
  @OnClusterPeerLost() @OnClusterPeerLeft() gone(e: ClusterPresenceEvent) { calls.push(`${e.type}:${e.peer.id}:${e.reason ?? ''}`); }
  @OnReplicaLost() replica(e: ReplicaLostEvent) { calls.push(`replica:${e.replica.id}:${e.peerIds.length}`); }
  @OnReplicaLost() throws() { throw new Error('boom'); }
  @OnPeerJoined() local() { calls.push('local'); }
}

const peer = (id: string, metadata: Record<string, string> = {}) => ({ id, status: 'alive' as const, metadata, replicas: [], since: 0 });

describe('@OnClusterPeer* and @OnReplicaLost', () => {
  afterEach(() => jest.restoreAllMocks());

  it('route cluster events and lost replicas through the one explorer, with filters, stacking and isolation', async () => {
    const events = new Subject<ClusterPresenceEvent>();
    const replicaLost = new Subject<ReplicaLostEvent>();
    const errors: string[] = [];
    jest.spyOn(Logger.prototype, 'error').mockImplementation((m: unknown) => void errors.push(String(m)));
    calls.length = 0;
    const ref = await Test.createTestingModule({
      imports: [HeartbeatModule.forRoot({ nodeId: 'local' })],
      providers: [Handlers],
    })
      // A stand-in with the streams the explorer reads: no Redis in a unit test.
      .overrideProvider(CLUSTER_PRESENCE).useValue({ events$: events, replicaLost$: replicaLost })
      .compile();
    const app = await ref.init();
    events.next({ type: 'joined', peer: peer('a'), at: 1 });
    events.next({ type: 'joined', peer: peer('b', { service: 'billing' }), at: 2 });
    events.next({ type: 'lost', peer: peer('a'), reason: 'replica-lost', replicaId: 'R/1', at: 3 });
    events.next({ type: 'left', peer: peer('b'), at: 4 });
    replicaLost.next({ type: 'replica-lost', replica: { id: 'R/1', nodeId: 'R', metadata: {}, startedAt: 0, self: false }, peerIds: ['a'], at: 3 });
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['joined:a', 'joined:b', 'billing:b', 'lost:a:replica-lost', 'left:b:', 'replica:R/1:1']);
    expect(errors).toEqual([expect.stringContaining('Handlers.throws failed on "replica-lost"')]);
    await app.close();
  });

  it('without the cluster option, such a handler is a warning naming it, not a crash', async () => {
    const warnings: string[] = [];
    jest.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
    const ref = await Test.createTestingModule({ imports: [HeartbeatModule.forRoot({ nodeId: 'local' })], providers: [Handlers] }).compile();
    const app = await ref.init();
    expect(app.get(PresenceService).cluster).toBeUndefined();
    expect(warnings).toEqual(expect.arrayContaining([
      expect.stringMatching(/Handlers\.joined will never run: option "cluster" is not configured/),
      expect.stringMatching(/Handlers\.replica will never run/),
    ]));
    await app.close();
  });
});
