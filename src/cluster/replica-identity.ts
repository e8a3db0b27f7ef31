import { randomBytes } from 'node:crypto';
import type { ReplicaRecord } from './cluster-codec.js';

/**
 * Who this replica is in Redis: `nodeId/<random>`, a new incarnation at every start and after
 * every fencing (like Phoenix's `vsn` or SWIM's incarnation numbers), so nothing written by a
 * previous life can be taken for what this one writes. Remembers every incarnation it had, so
 * the stream's echoes of our own writes, old or new, are recognised and skipped.
 */
export class ReplicaIdentity {
  private current: ReplicaRecord;
  private readonly incarnations = new Set<string>();

  constructor(nodeId: string, metadata: Record<string, string>, startedAt: number) {
    this.current = { id: newIncarnation(nodeId), nodeId, metadata: { ...metadata }, startedAt };
    this.incarnations.add(this.current.id);
  }

  get id(): string {
    return this.current.id;
  }

  get record(): ReplicaRecord {
    return this.current;
  }

  /** Whether `replicaId` is this process, in this or an earlier incarnation. */
  isOurs(replicaId: string): boolean {
    return this.incarnations.has(replicaId);
  }

  /** Takes a new incarnation; returns the one it replaces. */
  reincarnate(): string {
    const old = this.current.id;
    this.current = { ...this.current, id: newIncarnation(this.current.nodeId) };
    this.incarnations.add(this.current.id);
    return old;
  }
}

const newIncarnation = (nodeId: string) => `${nodeId}/${randomBytes(4).toString('hex')}`;
