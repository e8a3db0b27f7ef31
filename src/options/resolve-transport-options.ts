import {
  DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_HOST, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_LINKS_PER_PEER, DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_MIN_PING_INTERVAL_MS, DEFAULT_PORT, DEFAULT_RECONNECT,
  MAX_TIMER_MS,
} from '../common/heartbeat.constants.js';
import { invalidOption } from '../common/heartbeat.messages.js';
import type { DetectionRule } from '../detector/failure-detector.js';
import type {
  HeartbeatClientOptions, HeartbeatServerOptions, ReconnectOptions,
} from '../interfaces/heartbeat-options.interface.js';
import * as check from './option-checks.js';
import { nodeIdProblem } from '../protocol/frames.js';
import type {
  ResolvedClientOptions, ResolvedHeartbeatOptions, ResolvedIdentity, ResolvedServerOptions,
} from './resolved-options.js';

const SERVER_KEYS = [
  'host', 'port', 'tlsOptions', 'authToken', 'authTokens', 'authenticate', 'identityFromCertificate', 'maxFrameBytes',
  'handshakeTimeoutMs', 'minPingIntervalMs', 'drainTimeoutMs', 'maxConnections', 'maxPendingHandshakes', 'maxLinksPerPeer',
] as const;
const CLIENT_KEYS = ['name', 'host', 'port', 'tlsOptions', 'authToken', 'expectNodeId', 'reconnect', 'waitForReadyMs'] as const;
const RECONNECT_KEYS = ['initialDelayMs', 'maxDelayMs', 'factor', 'jitter'] as const;

interface ServerGroup {
  server?: ResolvedServerOptions;
  limits: ResolvedHeartbeatOptions['limits'];
  maxLinksPerPeer: number;
}

/** `server`, and the limits it sets for every link of the process. */
export function resolveServerOptions(given: unknown, rule: DetectionRule): ServerGroup {
  const s = check.group<HeartbeatServerOptions>('server', given, SERVER_KEYS);
  const limits = {
    maxFrameBytes: check.integer('server.maxFrameBytes', s.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 64),
    // The shared tick checks the deadline: a shorter one could not be kept.
    handshakeTimeoutMs: check.duration('server.handshakeTimeoutMs', s.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 2 * rule.tickMs),
  };
  const maxLinksPerPeer = check.integer('server.maxLinksPerPeer', s.maxLinksPerPeer, DEFAULT_MAX_LINKS_PER_PEER, 1);
  if (given === undefined) return { limits, maxLinksPerPeer };
  const server: ResolvedServerOptions = {
    host: check.string('server.host', s.host, DEFAULT_HOST),
    port: check.port('server.port', s.port, DEFAULT_PORT, 0),
    tlsOptions: s.tlsOptions,
    identity: resolveIdentity(s),
    minPingIntervalMs: check.duration('server.minPingIntervalMs', s.minPingIntervalMs, DEFAULT_MIN_PING_INTERVAL_MS, 0),
    drainTimeoutMs: check.duration('server.drainTimeoutMs', s.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS, 0),
    maxConnections: check.integer('server.maxConnections', s.maxConnections, DEFAULT_MAX_CONNECTIONS, 1),
    maxPendingHandshakes: check.integer('server.maxPendingHandshakes', s.maxPendingHandshakes, DEFAULT_MAX_PENDING_HANDSHAKES, 1),
  };
  return { server, limits, maxLinksPerPeer };
}

/** `authToken`, `authTokens` and `authenticate` exclude one another; `identityFromCertificate` goes with any. */
function resolveIdentity(s: Partial<HeartbeatServerOptions>): ResolvedIdentity {
  const given = (['authToken', 'authTokens', 'authenticate'] as const).filter((k) => s[k] !== undefined);
  if (given.length > 1) {
    throw new TypeError(invalidOption(`server.${given[1]}`, `cannot be given together with server.${given[0]} (choose one way to authenticate)`, typeof s[given[1]]));
  }
  const certificate = check.boolean('server.identityFromCertificate', s.identityFromCertificate, false);
  if (certificate && !(s.tlsOptions as { requestCert?: boolean } | undefined)?.requestCert) {
    throw new TypeError(invalidOption('server.identityFromCertificate', 'needs server.tlsOptions with requestCert: true (and a ca to verify client certificates)', true));
  }
  const identity: ResolvedIdentity = { mode: 'none', certificate };
  if (s.authToken !== undefined) {
    identity.mode = 'shared';
    identity.authToken = check.optionalString('server.authToken', s.authToken);
  } else if (s.authTokens !== undefined) {
    identity.mode = 'tokens';
    identity.authTokens = resolveTokens(s.authTokens);
  } else if (s.authenticate !== undefined) {
    identity.mode = 'callback';
    identity.authenticate = check.optionalFunction('server.authenticate', s.authenticate);
  }
  return identity;
}

function resolveTokens(value: unknown): Readonly<Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(invalidOption('server.authTokens', 'must be an object of nodeId → token', value));
  }
  const tokens: Record<string, string> = Object.create(null);
  for (const [nodeId, token] of Object.entries(value)) {
    const problem = nodeIdProblem(nodeId);
    if (problem) throw new TypeError(invalidOption(`server.authTokens["${nodeId}"]`, `key: the nodeId ${problem}`, nodeId));
    if (typeof token !== 'string' || token.length === 0) {
      throw new TypeError(invalidOption(`server.authTokens["${nodeId}"]`, 'must be a non-empty string', typeof token));
    }
    tokens[nodeId] = token;
  }
  return Object.freeze(tokens);
}

/** `clients`: one entry per HeartbeatClient, each injectable by its unique name. */
export function resolveClientOptions(given: unknown): ResolvedClientOptions[] {
  if (given === undefined) return [];
  if (!Array.isArray(given)) throw new TypeError(invalidOption('clients', 'must be an array', given));
  const names = new Set<string | symbol>();
  return given.map((entry, i) => {
    const p = `clients[${i}]`;
    const c = check.group<HeartbeatClientOptions>(p, entry, CLIENT_KEYS);
    if (typeof c.name !== 'string' && typeof c.name !== 'symbol') throw new TypeError(invalidOption(`${p}.name`, 'must be a string or symbol', c.name));
    if (names.has(c.name)) throw new TypeError(invalidOption(`${p}.name`, 'must be unique', String(c.name)));
    names.add(c.name);
    return {
      name: c.name,
      host: check.string(`${p}.host`, c.host, DEFAULT_HOST),
      port: check.port(`${p}.port`, c.port, DEFAULT_PORT, 1),
      tlsOptions: c.tlsOptions,
      authToken: check.optionalString(`${p}.authToken`, c.authToken),
      expectNodeId: resolveExpectedNodeId(`${p}.expectNodeId`, c.expectNodeId),
      waitForReadyMs: check.duration(`${p}.waitForReadyMs`, c.waitForReadyMs, 0, 0),
      reconnect: resolveReconnect(`${p}.reconnect`, c.reconnect),
    };
  });
}

function resolveExpectedNodeId(path: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const problem = nodeIdProblem(value);
  if (problem) throw new TypeError(invalidOption(path, problem, value));
  return value as string;
}

function resolveReconnect(path: string, given: unknown): Required<ReconnectOptions> {
  const r = check.group<ReconnectOptions>(path, given, RECONNECT_KEYS);
  const initialDelayMs = check.duration(`${path}.initialDelayMs`, r.initialDelayMs, DEFAULT_RECONNECT.initialDelayMs, 1);
  return {
    initialDelayMs,
    maxDelayMs: check.number(`${path}.maxDelayMs`, r.maxDelayMs, Math.max(DEFAULT_RECONNECT.maxDelayMs, initialDelayMs),
      (n) => n >= initialDelayMs && n <= MAX_TIMER_MS, `must be from initialDelayMs (${initialDelayMs}) to ${MAX_TIMER_MS}`),
    factor: check.number(`${path}.factor`, r.factor, DEFAULT_RECONNECT.factor, (n) => n >= 1, 'must be a number >= 1'),
    jitter: check.number(`${path}.jitter`, r.jitter, DEFAULT_RECONNECT.jitter, (n) => n >= 0 && n <= 1, 'must be a number from 0 to 1'),
  };
}
