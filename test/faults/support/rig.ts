/**
 * A detecting side in this process and a real peer app in a child process, linked one way or
 * the other:
 *
 *  - `server detects client`: a HeartbeatServer here, the peer app is a HeartbeatClient (or a
 *    stock ClientTCP with `stockClient`) connected to it;
 *  - `client detects server`: the peer app is a HeartbeatServer, a HeartbeatClient here.
 *
 * With a NetPair, the peer runs inside the namespace and the two talk over the veth addresses.
 */
import type { HeartbeatModuleOptions } from '../../../src/index.js';
import type { PeerAppConfig } from '../../fixtures/peer-app.js';
import { PeerProcess } from '../../support/peer-process.js';
import type { NetPair } from '../../../lab/netns.js';
import { LocalClients, LocalServer, startLocalClients, startLocalServer, until, type LocalSide } from './harness.js';

export type Direction = 'server detects client' | 'client detects server';
export const DIRECTIONS: Direction[] = ['server detects client', 'client detects server'];

export interface Rig {
  direction: Direction;
  local: LocalSide;
  peer: PeerProcess;
  peerId: string;
  localId: string;
}

let seq = 0;

export interface RigOptions {
  heartbeat: NonNullable<HeartbeatModuleOptions['heartbeat']>;
  /** Keepalive of the detecting side (this process). */
  keepAlive?: HeartbeatModuleOptions['keepAlive'];
  /** Heartbeat timing of the peer, when it should differ from the detecting side's. */
  peerHeartbeat?: HeartbeatModuleOptions['heartbeat'];
  /** The peer is a stock ClientTCP (server detects client only). */
  stockClient?: boolean;
  net?: NetPair;
  /** TLS on the link: the server presents `cert`/`key`, the client trusts `cert` as its CA. */
  tls?: { key: string; cert: string };
}

export async function startRig(direction: Direction, o: RigOptions): Promise<Rig> {
  const n = ++seq;
  const peerId = `peer-${process.pid}-${n}`;
  const localId = `local-${process.pid}-${n}`;
  const peerHeartbeat = o.peerHeartbeat ?? o.heartbeat;
  const netns = o.net?.name;
  const serverTls = o.tls ? { tlsOptions: { key: o.tls.key, cert: o.tls.cert } } : {};
  const clientTls = o.tls ? { tlsOptions: { ca: o.tls.cert } } : {};
  if (direction === 'server detects client') {
    const local = await startLocalServer({
      nodeId: localId, heartbeat: o.heartbeat, keepAlive: o.keepAlive,
      server: { host: o.net ? o.net.hostAddress : '127.0.0.1', port: 0, ...serverTls },
    });
    const config: PeerAppConfig = {
      nodeId: peerId, heartbeat: peerHeartbeat, stockClient: o.stockClient,
      clients: [{ name: 'SERVER', host: o.net ? o.net.hostAddress : '127.0.0.1', port: local.port, reconnect: { initialDelayMs: 100 }, ...clientTls }],
    };
    const peer = new PeerProcess(config, { netns });
    try {
      await peer.ready();
      if (o.stockClient) {
        // A stock client is known from its first data frame.
        peer.command({ cmd: 'request', id: 'hello', client: 'SERVER', pattern: 'echo', data: { from: peerId } });
        await peer.waitFor((l) => l.evt === 'reply' && l.id === 'hello', 10_000, 'first reply');
        await until(() => local.presence.peers().some((p) => p.status === 'alive' && !p.managed), 5_000, 'stock peer alive');
        const stock = local.presence.peers().find((p) => !p.managed)!;
        return { direction, local, peer, peerId: stock.id, localId };
      }
      await local.alive(peerId);
      return { direction, local, peer, peerId, localId };
    } catch (e) {
      await peer.kill();
      await local.close();
      throw e;
    }
  }
  if (o.stockClient) throw new Error('stockClient needs the server in this process');
  const peer = new PeerProcess({
    nodeId: peerId, heartbeat: peerHeartbeat, server: { host: o.net ? o.net.nsAddress : '127.0.0.1', port: 0, ...serverTls },
  }, { netns });
  const ready = await peer.ready();
  let local: LocalClients | undefined;
  try {
    local = await startLocalClients({
      nodeId: localId, heartbeat: o.heartbeat, keepAlive: o.keepAlive,
      clients: [{ name: 'PEER', host: o.net ? o.net.nsAddress : '127.0.0.1', port: ready.port, reconnect: { initialDelayMs: 100 }, ...clientTls }],
    });
    await local.alive(peerId);
    return { direction, local, peer, peerId, localId };
  } catch (e) {
    await peer.kill();
    await local?.close();
    throw e;
  }
}

export function isServerSide(local: LocalSide): local is LocalServer {
  return local instanceof LocalServer;
}
