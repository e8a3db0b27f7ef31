/**
 * Real Redis deployments for the topology specs, each made of redis-server processes of our own
 * on free ports: a Redis Cluster (masters and replicas, `redis-cli --cluster create`) and a
 * Sentinel set (a master, a replica, three sentinels).
 */
import { spawnSync } from 'node:child_process';
import { RedisServer } from './redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Redis Cluster: `masters` masters with one replica each. Node timeout 1 s, so a failover takes a few seconds. */
export class RedisClusterSet {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(masters = 3): Promise<RedisClusterSet> {
    const nodes = await Promise.all(Array.from({ length: 2 * masters }, () => RedisServer.start({
      args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000'],
    })));
    const set = new RedisClusterSet(nodes);
    const r = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`redis-cli --cluster create failed: ${r.stdout}\n${r.stderr}`);
    await until('cluster_state:ok on every node', () => nodes.every((n) => n.cli('CLUSTER', 'INFO').includes('cluster_state:ok')), 20_000);
    // A replica that has not finished its first sync does not fail over (its data counts as too old).
    await until('every replica in sync with its master', () => nodes.every((n) => {
      const replication = n.cli('INFO', 'replication');
      return replication.includes('role:master') || replication.includes('master_link_status:up');
    }), 30_000);
    return set;
  }

  get startupNodes(): Array<{ host: string; port: number }> {
    return this.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  }

  private live(): RedisServer[] {
    return this.nodes.filter((n) => n.child?.exitCode === null && n.child.signalCode === null);
  }

  /** The master that serves `key`'s hash slot now. */
  masterOf(key: string): RedisServer {
    const any = this.live()[0];
    const slot = Number(any.cli('CLUSTER', 'KEYSLOT', key));
    for (const line of any.cli('CLUSTER', 'NODES').split('\n')) {
      const [, address, flags, , , , , , ...slots] = line.split(' ');
      if (!flags.includes('master') || flags.includes('fail')) continue;
      const owns = slots.some((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return slot >= from && slot <= to;
      });
      if (owns) return this.nodes.find((n) => address.startsWith(`127.0.0.1:${n.port}@`))!;
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /** Waits until a live master (not `previous`) serves `key`'s slot and the cluster is ok again. */
  async failedOver(key: string, previous: RedisServer, timeoutMs = 30_000): Promise<RedisServer> {
    let next: RedisServer | undefined;
    await until(`a new master for ${key}`, () => {
      try {
        const live = this.live();
        next = this.masterOf(key);
        return next !== previous && live.every((n) => n.cli('CLUSTER', 'INFO').includes('cluster_state:ok'));
      } catch {
        return false;
      }
    }, timeoutMs);
    return next!;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.dispose()));
  }
}

/** A master, one replica and three sentinels watching `mymaster` (down after 1 s). */
export class SentinelSet {
  static readonly MASTER_NAME = 'mymaster';

  private constructor(readonly master: RedisServer, readonly replica: RedisServer, readonly sentinels: RedisServer[]) {}

  static async start(): Promise<SentinelSet> {
    const master = await RedisServer.start();
    const replica = await RedisServer.start({
      args: ['--replicaof', '127.0.0.1', String(master.port)], readyLine: /MASTER <-> REPLICA sync: Finished with success/,
    });
    const conf = [
      `sentinel monitor ${SentinelSet.MASTER_NAME} 127.0.0.1 ${master.port} 2`,
      `sentinel down-after-milliseconds ${SentinelSet.MASTER_NAME} 1000`,
      `sentinel failover-timeout ${SentinelSet.MASTER_NAME} 5000`,
    ].join('\n');
    const sentinels = await Promise.all([0, 1, 2].map(() => RedisServer.start({ sentinelConf: conf })));
    const set = new SentinelSet(master, replica, sentinels);
    // A failover needs every sentinel to know the replica and a quorum of the others.
    await until('the sentinels to know each other and the replica', () => sentinels.every((s) => {
      const info = s.cli('SENTINEL', 'MASTER', SentinelSet.MASTER_NAME).split('\n');
      const field = (name: string) => Number(info[info.indexOf(name) + 1]);
      return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
    }), 20_000);
    return set;
  }

  get sentinelNodes(): Array<{ host: string; port: number }> {
    return this.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /** The master's port as the sentinels see it now. */
  masterPort(): number {
    return Number(this.sentinels[0].cli('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SentinelSet.MASTER_NAME).split('\n')[1]);
  }

  /**
   * A managed failover (`SENTINEL FAILOVER`): the replica is promoted and the old master, still
   * running, is turned into its replica — connections left on it get READONLY on writes.
   */
  async failover(timeoutMs = 15_000): Promise<void> {
    const before = this.masterPort();
    this.sentinels[0].cli('SENTINEL', 'FAILOVER', SentinelSet.MASTER_NAME);
    await until('the sentinels to name the new master', () => this.masterPort() !== before, timeoutMs);
    const promoted = [this.master, this.replica].find((s) => s.port === this.masterPort())!;
    const demoted = promoted === this.master ? this.replica : this.master;
    await until('the old master to be a replica', () => demoted.cli('ROLE').startsWith('slave'), timeoutMs);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.master, this.replica, ...this.sentinels].map((s) => s.dispose()));
  }
}
