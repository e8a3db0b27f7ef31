import {
  DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_HOST, DEFAULT_MAX_FRAME_BYTES, DEFAULT_MIN_PING_INTERVAL_MS, DEFAULT_PORT,
  DEFAULT_RECONNECT, MAX_TIMER_MS,
} from '../common/heartbeat.constants.js';
import { invalidOption } from '../common/heartbeat.messages.js';
import type { DetectionRule } from '../detector/failure-detector.js';
import type {
  HeartbeatClientOptions, HeartbeatServerOptions, ReconnectOptions,
} from '../interfaces/heartbeat-options.interface.js';
import * as check from './option-checks.js';
import type { ResolvedClientOptions, ResolvedHeartbeatOptions, ResolvedServerOptions } from './resolved-options.js';

const SERVER_KEYS = ['host', 'port', 'tlsOptions', 'authToken', 'maxFrameBytes', 'handshakeTimeoutMs', 'minPingIntervalMs', 'drainTimeoutMs'] as const;
const CLIENT_KEYS = ['name', 'host', 'port', 'tlsOptions', 'authToken', 'reconnect', 'waitForReadyMs'] as const;
const RECONNECT_KEYS = ['initialDelayMs', 'maxDelayMs', 'factor', 'jitter'] as const;

/** `server`, and the limits it sets for every link of the process. */
export function resolveServerOptions(given: unknown, rule: DetectionRule): { server?: ResolvedServerOptions; limits: ResolvedHeartbeatOptions['limits'] } {
  const s = check.group<HeartbeatServerOptions>('server', given, SERVER_KEYS);
  const limits = {
    maxFrameBytes: check.integer('server.maxFrameBytes', s.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES, 64),
    // The shared tick checks the deadline: a shorter one could not be kept.
    handshakeTimeoutMs: check.duration('server.handshakeTimeoutMs', s.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, 2 * rule.tickMs),
  };
  if (given === undefined) return { limits };
  const server: ResolvedServerOptions = {
    host: check.string('server.host', s.host, DEFAULT_HOST),
    port: check.port('server.port', s.port, DEFAULT_PORT, 0),
    tlsOptions: s.tlsOptions,
    authToken: check.optionalString('server.authToken', s.authToken),
    minPingIntervalMs: check.duration('server.minPingIntervalMs', s.minPingIntervalMs, DEFAULT_MIN_PING_INTERVAL_MS, 0),
    drainTimeoutMs: check.duration('server.drainTimeoutMs', s.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS, 0),
  };
  return { server, limits };
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
      waitForReadyMs: check.duration(`${p}.waitForReadyMs`, c.waitForReadyMs, 0, 0),
      reconnect: resolveReconnect(`${p}.reconnect`, c.reconnect),
    };
  });
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
