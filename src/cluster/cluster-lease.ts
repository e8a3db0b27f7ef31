import { encodeReplica } from './cluster-codec.js';
import { runScript, SCRIPTS, type ClusterKeys } from './cluster-scripts.js';
import type { ResolvedClusterOptions } from '../options/resolved-options.js';
import type { RedisLink } from './redis-client.js';
import type { ReplicaIdentity } from './replica-identity.js';

/** Stream entries kept (MAXLEN ~). A reader further behind than this resynchronises from a snapshot. */
export const STREAM_MAX_ENTRIES = 1000;

/**
 * Every key of a namespace lives this long past the last renewal that touched it: a namespace
 * whose last replica died expires by itself. A few leases, so that a Redis stall the stall guard
 * rides out does not expire it too (a longer one does: then the replicas re-register, as after
 * a restart of Redis).
 */
export const keyTtlMs = (leaseTtlMs: number) => 3 * leaseTtlMs;

/** What the lease tells the service it belongs to. */
export interface LeaseHooks {
  /** Registered, first or again after fencing: the whole table is to be published. */
  registered(): void;
  /** A renewal went through: buffered changes may be written now. */
  renewed(): void;
  /** The lease was lost and a new incarnation taken (`identity` already holds it); registration follows. */
  fenced(oldId: string): void;
  /** A renewal failed (why) or has been stuck for too long. */
  failed(why: string): void;
}

type LeaseState = 'unregistered' | 'held' | 'released';

/**
 * This replica's lease in Redis: register, renew every `renewIntervalMs` (the renew script also
 * reaps expired leases, and refreshes all of them after a stall of Redis: the stall guard), come
 * back at once when another replica's lease ends before our next renewal, and fencing: a lease
 * found gone means we were reaped (paused, cut off) or Redis forgot us, so we re-register as a
 * new incarnation instead of resurrecting the old one.
 */
export class ClusterLease {
  private state: LeaseState = 'unregistered';
  /** The incarnation we had before we were fenced: the next registration removes what is left of it. */
  private previousId = '';
  /** Redis time of our registration: before the last renewal by anyone, we lived through any gap after it (the stall guard). */
  private registeredAt = 0;
  /** Redis time of our last successful register or renew. */
  private lastOk = 0;
  /** Redis time of our last TTL refresh. */
  private lastTouch = 0;
  private renewStartedAt?: number;
  private renewTimer?: NodeJS.Timeout;
  private reapTimer?: NodeJS.Timeout;

  constructor(
    private readonly options: ResolvedClusterOptions,
    private readonly keys: ClusterKeys,
    private readonly identity: ReplicaIdentity,
    private readonly client: () => RedisLink,
    private readonly hooks: LeaseHooks,
    private readonly now: () => number,
  ) {}

  get held(): boolean {
    return this.state === 'held';
  }

  /** Registers, then renews every `renewIntervalMs`. Resolves after the first attempt. */
  start(): Promise<void> {
    const first = this.renew();
    this.renewTimer = setInterval(() => void this.renew(), this.options.renewIntervalMs);
    return first;
  }

  /** Stops renewing; with `leave`, removes the lease, the table and the record and appends `bye`. */
  async release(leave: (keys: string[], args: Array<string | number>) => Promise<unknown>): Promise<void> {
    clearInterval(this.renewTimer);
    clearTimeout(this.reapTimer);
    const wasHeld = this.state === 'held';
    this.state = 'released';
    if (!wasHeld) return;
    const k = this.keys;
    await leave([k.leases, k.replicas, `${k.peersPrefix}${this.identity.id}`, k.events, k.seq],
      [this.identity.id, STREAM_MAX_ENTRIES, keyTtlMs(this.options.leaseTtlMs)]);
  }

  /** Our lease is gone (reaped while we were paused or cut off, or Redis lost it): come back as a new incarnation. */
  fence(): void {
    if (this.state !== 'held') return;
    const old = this.identity.reincarnate();
    this.previousId = old;
    this.state = 'unregistered';
    this.hooks.fenced(old);
    if (this.renewStartedAt === undefined) void this.renew();
  }

  /** Registers, or renews the lease and reaps expired ones. Single flight; a renew stuck in Redis is a failure. */
  private async renew(): Promise<void> {
    if (this.state === 'released') return;
    if (this.renewStartedAt !== undefined) {
      const stuckMs = this.now() - this.renewStartedAt;
      if (stuckMs >= this.degradedAfterMs()) this.hooks.failed(`no answer for ${stuckMs} ms`);
      return;
    }
    this.renewStartedAt = this.now();
    const k = this.keys;
    const { leaseTtlMs } = this.options;
    const keyTtl = keyTtlMs(leaseTtlMs);
    try {
      if (this.state === 'unregistered') {
        const redisNow = await runScript(this.client(), SCRIPTS.register, [k.leases, k.replicas, k.events, k.seq], [
          this.identity.id, leaseTtlMs, encodeReplica(this.identity.record, this.previousId || undefined), STREAM_MAX_ENTRIES,
          keyTtl, this.previousId, k.peersPrefix,
        ]) as number;
        if (this.state !== 'unregistered') return; // released meanwhile
        this.state = 'held';
        this.previousId = '';
        this.registeredAt = this.lastOk = this.lastTouch = redisNow;
        this.hooks.registered();
      } else {
        const touch = this.lastOk - this.lastTouch >= leaseTtlMs / 2;
        const [ok, redisNow, , , nextDeadline] = await runScript(this.client(), SCRIPTS.renew, [k.leases, k.replicas, k.events, k.seq], [
          this.identity.id, leaseTtlMs, this.stallMs(), STREAM_MAX_ENTRIES, k.peersPrefix, this.registeredAt, keyTtl, touch ? 1 : 0,
        ]) as number[];
        if (ok === 0) {
          this.fence();
          this.renewStartedAt = undefined;
          return this.renew();
        }
        this.lastOk = redisNow;
        if (touch) this.lastTouch = redisNow;
        this.scheduleReap(nextDeadline, redisNow);
      }
      this.hooks.renewed();
    } catch (error) {
      this.hooks.failed((error as Error).message);
    } finally {
      this.renewStartedAt = undefined;
    }
  }

  /** Comes back when another replica's lease ends before our next renewal (Redis time → our timers). */
  private scheduleReap(nextDeadline: number | undefined, redisNow: number): void {
    if (nextDeadline === undefined || nextDeadline < 0 || this.state === 'released') return;
    const inMs = nextDeadline - redisNow + 1;
    if (inMs >= this.options.renewIntervalMs) return;
    clearTimeout(this.reapTimer);
    this.reapTimer = setTimeout(() => void this.renew(), Math.max(0, inMs));
  }

  /**
   * A gap in renewals longer than this means Redis (or every replica's path to it) stalled, not
   * that replicas died: leases are refreshed instead of reaped (by a replica registered before the
   * gap). A healthy cluster renews every renewIntervalMs; a lease cannot expire from a gap
   * shorter than leaseTtlMs - renewIntervalMs.
   */
  private stallMs(): number {
    const { leaseTtlMs, renewIntervalMs } = this.options;
    return Math.max(2 * renewIntervalMs, leaseTtlMs - 2 * renewIntervalMs);
  }

  private degradedAfterMs(): number {
    return Math.max(this.options.renewIntervalMs, 1000);
  }
}
