import { encodeEntry, toWire } from './cluster-codec.js';
import { STREAM_MAX_ENTRIES } from './cluster-lease.js';
import { runScript, SCRIPTS, type ClusterKeys } from './cluster-scripts.js';
import type { PeerEntry } from './cluster-view.js';
import type { RedisLink } from './redis-client.js';
import type { ReplicaIdentity } from './replica-identity.js';

/** Peer changes per stream entry (and per publish command). */
const BATCH = 200;

/** What the publisher needs from the service it belongs to. */
export interface PublisherHooks {
  /** Whether writing is possible now: the lease is held and the service is running. */
  canWrite(): boolean;
  /** Whether a retry may follow at once: writable and no failure pending. */
  healthy(): boolean;
  /** This replica's whole table, for a full publish. */
  table(): Iterable<[string, PeerEntry]>;
  /** A write was refused: our lease is gone. */
  fenced(): void;
  failed(why: string): void;
}

/**
 * Writes this replica's peer table to Redis: local changes are batched (every change of one
 * tick in one write, up to BATCH peers per script call, the latest state per peer), and after a
 * (re)registration the whole table is written in chunks with one `sync` entry for readers.
 * While Redis is away the changes stay buffered and go out on the next successful renewal.
 */
export class ClusterPublisher {
  private readonly dirty = new Map<string, PeerEntry>();
  private fullPublishDue = true;
  private publishing = false;
  private flushTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly keys: ClusterKeys,
    private readonly identity: ReplicaIdentity,
    private readonly client: () => RedisLink,
    private readonly hooks: PublisherHooks,
    private readonly keyTtlMs: number,
  ) {}

  /** A local change of one peer: written with the next batch. */
  change(peerId: string, entry: PeerEntry): void {
    this.dirty.set(peerId, entry);
    this.schedule();
  }

  /** After a (re)registration: the next write is the whole table. */
  republish(): void {
    this.fullPublishDue = true;
  }

  /** Writes what is pending, if anything (after a renewal: Redis answers again). */
  resume(): void {
    if (this.dirty.size > 0 || this.fullPublishDue) void this.flush();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.flushTimer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, 0);
  }

  /** Writes this replica's pending changes (or its whole table after a (re)registration). Single flight. */
  private async flush(): Promise<void> {
    if (this.publishing || this.stopped || !this.hooks.canWrite()) return;
    this.publishing = true;
    let changes: Array<[string, PeerEntry]>;
    const full = this.fullPublishDue;
    if (full) {
      this.fullPublishDue = false;
      this.dirty.clear();
      changes = [...this.hooks.table()].filter(([, e]) => e.status === 'alive' || e.status === 'suspect');
    } else {
      changes = [...this.dirty];
      this.dirty.clear();
    }
    try {
      const k = this.keys;
      const chunks = Math.max(1, Math.ceil(changes.length / BATCH));
      for (let c = 0; c < chunks; c++) {
        const chunk = changes.slice(c * BATCH, (c + 1) * BATCH);
        if (chunk.length === 0 && !full) break;
        const mode = !full ? 'peers' : chunkMode(c === 0, c === chunks - 1);
        const payload = mode === 'peers' ? JSON.stringify(chunk.map(([id, e]) => [id, toWire(e)])) : '';
        const args: Array<string | number> = [this.identity.id, STREAM_MAX_ENTRIES, mode, payload, this.keyTtlMs];
        for (const [id, e] of chunk) args.push(id, e.status === 'alive' || e.status === 'suspect' ? encodeEntry(e) : '');
        const ok = await runScript(this.client(), SCRIPTS.publish, [k.leases, `${k.peersPrefix}${this.identity.id}`, k.events, k.seq], args);
        if (ok === 0) {
          this.hooks.fenced();
          break;
        }
      }
    } catch (error) {
      // Keep what did not make it, unless a newer change of the same peer is already queued.
      for (const [id, e] of changes) if (!this.dirty.has(id)) this.dirty.set(id, e);
      this.hooks.failed((error as Error).message);
    } finally {
      this.publishing = false;
    }
    if ((this.dirty.size > 0 || this.fullPublishDue) && this.hooks.healthy()) this.schedule();
  }
}

/** A whole table goes out as reset (first chunk), more…, sync (last chunk: readers fetch the table); one chunk is reset-sync. */
function chunkMode(first: boolean, last: boolean): 'reset-sync' | 'reset' | 'sync' | 'more' {
  if (first && last) return 'reset-sync';
  return first ? 'reset' : last ? 'sync' : 'more';
}
