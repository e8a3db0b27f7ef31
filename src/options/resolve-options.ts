import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { invalidOption } from '../common/heartbeat.messages.js';
import { DEFAULT_MAX_RETAINED, DEFAULT_RETAIN_MS } from '../common/heartbeat.constants.js';
import type { HeartbeatModuleOptions, PresenceOptions } from '../interfaces/heartbeat-options.interface.js';
import { metadataProblem, nodeIdProblem } from '../protocol/frames.js';
import * as check from './option-checks.js';
import { resolveClusterOptions } from './resolve-cluster-options.js';
import { resolveKeepAliveOptions, resolveTimingOptions } from './resolve-timing-options.js';
import { resolveClientOptions, resolveServerOptions } from './resolve-transport-options.js';
import type { ResolvedHeartbeatOptions } from './resolved-options.js';

/** Top-level keys; `isGlobal` and `clientNames` are the module's extras (forRoot / forRootAsync). */
const MODULE_KEYS = ['nodeId', 'metadata', 'heartbeat', 'keepAlive', 'server', 'clients', 'presence', 'cluster', 'isGlobal', 'clientNames'] as const;
const PRESENCE_KEYS = ['retainMs', 'maxRetained'] as const;

export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/**
 * Fills defaults and validates, one group at a time; throws a TypeError naming the first bad
 * option, or the first unknown key and the known one it is closest to.
 */
export function resolveHeartbeatOptions(options: HeartbeatModuleOptions = {}): ResolvedHeartbeatOptions {
  const o = check.group<HeartbeatModuleOptions>('', options, MODULE_KEYS);
  const heartbeat = resolveTimingOptions(o.heartbeat);
  const { server, limits, maxLinksPerPeer } = resolveServerOptions(o.server, heartbeat.rule);
  return {
    nodeId: resolveNodeId(o.nodeId),
    incarnation: randomBytes(8).toString('hex'),
    metadata: resolveMetadata(o.metadata),
    heartbeat,
    keepAlive: resolveKeepAliveOptions(o.keepAlive, heartbeat.detectWithinMs),
    limits,
    presence: { ...resolvePresenceOptions(o.presence), maxLinksPerPeer },
    server,
    clients: resolveClientOptions(o.clients),
    cluster: resolveClusterOptions(o.cluster),
  };
}

/** `presence`: how departed peers are retained. */
function resolvePresenceOptions(given: unknown): { retainMs: number; maxRetained: number } {
  const p = check.group<PresenceOptions>('presence', given, PRESENCE_KEYS);
  return {
    retainMs: check.duration('presence.retainMs', p.retainMs, DEFAULT_RETAIN_MS, 0),
    maxRetained: check.integer('presence.maxRetained', p.maxRetained, DEFAULT_MAX_RETAINED, 0),
  };
}

/** Our own identity obeys the limits we apply to peers' (the handshake carries it). */
function resolveNodeId(value: unknown): string {
  if (value === undefined) return defaultNodeId();
  const problem = nodeIdProblem(value);
  if (problem) throw new TypeError(invalidOption('nodeId', problem, value));
  return value as string;
}

function resolveMetadata(value: unknown): Record<string, string> {
  const problem = metadataProblem(value);
  if (problem) throw new TypeError(invalidOption('metadata', problem, value));
  return { ...(value as Record<string, string> | undefined) };
}
