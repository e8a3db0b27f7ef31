/**
 * Demo plumbing: a "network cable" to pull. One peer runs in a private network namespace,
 * joined to this one by a veth pair (the lab's netns helper, lab/netns.ts, shared with the
 * tests and benchmarks):
 *
 *   this namespace                          namespace <name>
 *   <name>h  10.213.<n>.1/30  <== veth ==>  <name>n  10.213.<n>.2/30
 *
 * The server listens on 10.213.<n>.1 (a local address: the other peers reach it over loopback).
 * `cut()` sets the namespace end down: from then on nothing crosses, no FIN, no RST, no socket
 * error on either side, exactly like a pulled cable; only heartbeats (or keepalive, later) notice.
 *
 * Needs root and iproute2. The namespace and the veth pair are always removed: `destroySync()`
 * on exit, Ctrl-C and SIGTERM; pairs left by a run that was SIGKILLed are removed on the next
 * start. The /30 is claimed with a lock file shared with the tests and benchmarks, so no two
 * runs pick the same subnet.
 */
import { createNetPair, netnsAvailable, type NetPair } from '../../lab/netns.js';

export class Cable {
  private constructor(private readonly pair: NetPair) {}

  get namespace(): string {
    return this.pair.name;
  }
  get hostAddress(): string {
    return this.pair.hostAddress;
  }
  get nsAddress(): string {
    return this.pair.nsAddress;
  }
  get hostInterface(): string {
    return this.pair.hostInterface;
  }
  get nsInterface(): string {
    return this.pair.nsInterface;
  }

  /** Why the cable fault cannot run here, or undefined when it can. */
  static async unavailable(): Promise<string | undefined> {
    const { ok, reason } = await netnsAvailable();
    if (ok) return undefined;
    return process.getuid?.() !== 0 ? `${reason}; run with sudo to include it` : reason;
  }

  static async create(): Promise<Cable> {
    return new Cable(await createNetPair());
  }

  /** Pull the cable: the namespace end goes down, the host end loses carrier. */
  cut(): Promise<void> {
    return this.pair.linkDown();
  }

  /** Deletes the veth pair (both ends) and the namespace. Idempotent; safe in exit handlers. */
  destroySync(): void {
    this.pair.destroySync();
  }
}
