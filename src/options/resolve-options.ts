import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_HOST, DEFAULT_INTERVAL_MS, DEFAULT_KEEPALIVE_IDLE_MS,
  DEFAULT_KEEPALIVE_INTERVAL_MS, DEFAULT_KEEPALIVE_PROBES, DEFAULT_MAX_FRAME_BYTES, DEFAULT_MISSED_BEATS,
  DEFAULT_PORT, DEFAULT_RECONNECT, DEFAULT_SUSPECT_AFTER_BEATS, MAX_TIMER_MS, MIN_INTERVAL_MS, DEFAULT_MIN_PING_INTERVAL_MS,
} from '../common/heartbeat.constants.js';
import { DEFAULT_ADAPTIVE_LEVELS } from '../detector/adaptive-detector.js';
import { tickPeriod } from '../detector/failure-detector.js';
import { resolveClusterOptions } from './resolve-cluster-options.js';
import { invalidOption } from '../common/heartbeat.messages.js';
import { metadataProblem, nodeIdProblem } from '../protocol/frames.js';
import type {
  HeartbeatModuleOptions, ResolvedClientOptions, ResolvedHeartbeatOptions, ResolvedServerOptions,
} from '../interfaces/heartbeat-options.interface.js';

export type { ResolvedClientOptions, ResolvedHeartbeatOptions, ResolvedServerOptions };

class OptionsCheck {
  num(path: string, value: unknown, fallback: number, rule: (n: number) => boolean, text: string): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || !rule(value)) {
      throw new TypeError(invalidOption(path, text, value));
    }
    return value;
  }
  /** A duration a timer will wait: Node clamps anything above 2³¹−1 ms to 1 ms. */
  duration = (min: number) => (path: string, v: unknown, d: number) =>
    this.num(path, v, d, (n) => n >= min && n <= MAX_TIMER_MS, `must be a number of ms from ${min} to ${MAX_TIMER_MS}`);
  atLeast = (min: number) => (path: string, v: unknown, d: number) =>
    this.num(path, v, d, (n) => n >= min && Number.isInteger(n), `must be an integer >= ${min}`);
  /** The kernel counts TCP_KEEPIDLE and TCP_KEEPINTVL in whole seconds. */
  seconds = (path: string, v: unknown, d: number) =>
    this.num(path, v, d, (n) => n >= 1000 && n % 1000 === 0, 'must be a whole number of seconds in ms (>= 1000, multiple of 1000)');
  port = (path: string, v: unknown, d: number) =>
    this.num(path, v, d, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'must be an integer from 0 to 65535');
  str(path: string, v: unknown, d: string): string {
    if (v === undefined) return d;
    if (typeof v !== 'string' || v.length === 0) throw new TypeError(invalidOption(path, 'must be a non-empty string', v));
    return v;
  }
  /** Our own identity obeys the limits we apply to peers' (the handshake carries it). */
  nodeId(path: string, v: unknown, d: string): string {
    if (v === undefined) return d;
    const problem = nodeIdProblem(v);
    if (problem) throw new TypeError(invalidOption(path, problem, v));
    return v as string;
  }
  metadata(path: string, v: unknown): Record<string, string> {
    const problem = metadataProblem(v);
    if (problem) throw new TypeError(invalidOption(path, problem, v));
    return { ...(v as Record<string, string> | undefined) };
  }
}

/** API.md "Sessions": the interval that finds a hang within the budget, `floor(budget / (missedBeats + 1))`. */
export function intervalForBudget(detectWithinMs: number, missedBeats: number): number {
  return Math.floor(detectWithinMs / (missedBeats + 1));
}

/**
 * Kernel keepalive for a detection budget: `idle + probes × interval ≤ 2 × budget` in whole
 * seconds (the kernel's unit), at least 1 s each. Half the time idle, the rest in 1 s probes:
 * a stock client (kernel keepalive only) is found within twice the budget, or 2 s at least.
 */
export function keepAliveForBudget(detectWithinMs: number): { idleMs: number; intervalMs: number; probes: number } {
  const totalS = Math.max(2, Math.floor((2 * detectWithinMs) / 1000));
  const idleS = Math.ceil(totalS / 2);
  return { idleMs: idleS * 1000, intervalMs: 1000, probes: Math.max(1, totalS - idleS) };
}

export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Fills defaults and validates; throws a TypeError naming the first bad option. */
export function resolveHeartbeatOptions(options: HeartbeatModuleOptions = {}): ResolvedHeartbeatOptions {
  const c = new OptionsCheck();
  const hb = options.heartbeat ?? {};
  const missedBeats = c.atLeast(1)('heartbeat.missedBeats', hb.missedBeats, DEFAULT_MISSED_BEATS);
  if (hb.detectWithinMs !== undefined && hb.intervalMs !== undefined) {
    throw new TypeError(invalidOption('heartbeat.detectWithinMs', 'cannot be given together with heartbeat.intervalMs (one sets the other)', hb.detectWithinMs));
  }
  const detectWithinMs = hb.detectWithinMs === undefined ? undefined
    : c.duration(MIN_INTERVAL_MS * (missedBeats + 1))('heartbeat.detectWithinMs', hb.detectWithinMs, 0);
  // Below 10 ms a healthy loopback link flaps: the tick (5 ms minimum) and timer jitter eat the grace.
  const intervalMs = detectWithinMs === undefined
    ? c.duration(MIN_INTERVAL_MS)('heartbeat.intervalMs', hb.intervalMs, DEFAULT_INTERVAL_MS)
    : intervalForBudget(detectWithinMs, missedBeats);
  const tickMs = tickPeriod(intervalMs);
  const resumeWindowMs = c.num('heartbeat.resumeWindowMs', hb.resumeWindowMs, 0,
    (n) => n >= 0 && n <= MAX_TIMER_MS, `must be a number of ms from 0 (off) to ${MAX_TIMER_MS}`);
  const suspectAfterBeats = c.num('heartbeat.suspectAfterBeats', hb.suspectAfterBeats,
    Math.min(DEFAULT_SUSPECT_AFTER_BEATS, missedBeats),
    (n) => Number.isInteger(n) && n >= 1 && n <= missedBeats, `must be an integer from 1 to missedBeats (${missedBeats})`);

  const detector = hb.detector ?? 'fixed';
  if (detector !== 'fixed' && detector !== 'adaptive') {
    throw new TypeError(invalidOption('heartbeat.detector', "must be 'fixed' or 'adaptive'", detector));
  }

  const ka = options.keepAlive ?? {};
  const enabled = ka.enabled ?? true;
  if (typeof enabled !== 'boolean') throw new TypeError(invalidOption('keepAlive.enabled', 'must be a boolean', enabled));
  // With a detection budget the kernel layer is derived from it too; explicit keepAlive values still win.
  const kaDefaults = detectWithinMs === undefined
    ? { idleMs: DEFAULT_KEEPALIVE_IDLE_MS, intervalMs: DEFAULT_KEEPALIVE_INTERVAL_MS, probes: DEFAULT_KEEPALIVE_PROBES }
    : keepAliveForBudget(detectWithinMs);
  const idleMs = c.seconds('keepAlive.idleMs', ka.idleMs, kaDefaults.idleMs);
  const kaIntervalMs = c.seconds('keepAlive.intervalMs', ka.intervalMs, kaDefaults.intervalMs);
  const probes = c.atLeast(1)('keepAlive.probes', ka.probes, kaDefaults.probes);
  const userTimeoutMs = c.num('keepAlive.userTimeoutMs', ka.userTimeoutMs,
    enabled ? idleMs + probes * kaIntervalMs : 0, (n) => Number.isInteger(n) && n >= 0 && n <= MAX_TIMER_MS,
    `must be an integer from 0 (kernel default) to ${MAX_TIMER_MS}`);
  if (typeof ka.noDelay !== 'undefined' && typeof ka.noDelay !== 'boolean') {
    throw new TypeError(invalidOption('keepAlive.noDelay', 'must be a boolean', ka.noDelay));
  }
  const noDelay = ka.noDelay ?? true;

  const s = options.server;
  const maxFrameBytes = c.atLeast(64)('server.maxFrameBytes', s?.maxFrameBytes, DEFAULT_MAX_FRAME_BYTES);
  // The shared tick checks the deadline: a shorter one could not be kept.
  const handshakeTimeoutMs = c.duration(2 * tickMs)('server.handshakeTimeoutMs', s?.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
  const server: ResolvedServerOptions | undefined = s && {
    host: c.str('server.host', s.host, DEFAULT_HOST),
    port: c.port('server.port', s.port, DEFAULT_PORT),
    tlsOptions: s.tlsOptions,
    authToken: s.authToken === undefined ? undefined : c.str('server.authToken', s.authToken, ''),
    minPingIntervalMs: c.duration(0)('server.minPingIntervalMs', s.minPingIntervalMs, DEFAULT_MIN_PING_INTERVAL_MS),
  };

  if (options.clients !== undefined && !Array.isArray(options.clients)) {
    throw new TypeError(invalidOption('clients', 'must be an array', options.clients));
  }
  const names = new Set<string | symbol>();
  const clients = (options.clients ?? []).map((cl, i): ResolvedClientOptions => {
    const p = `clients[${i}]`;
    if (typeof cl?.name !== 'string' && typeof cl?.name !== 'symbol') {
      throw new TypeError(invalidOption(`${p}.name`, 'must be a string or symbol', cl?.name));
    }
    if (names.has(cl.name)) throw new TypeError(invalidOption(`${p}.name`, 'must be unique', String(cl.name)));
    names.add(cl.name);
    const r = cl.reconnect ?? {};
    const initialDelayMs = c.duration(1)(`${p}.reconnect.initialDelayMs`, r.initialDelayMs, DEFAULT_RECONNECT.initialDelayMs);
    return {
      name: cl.name,
      host: c.str(`${p}.host`, cl.host, DEFAULT_HOST),
      port: c.num(`${p}.port`, cl.port, DEFAULT_PORT, (n) => Number.isInteger(n) && n > 0 && n <= 65535, 'must be an integer from 1 to 65535'),
      tlsOptions: cl.tlsOptions,
      authToken: cl.authToken === undefined ? undefined : c.str(`${p}.authToken`, cl.authToken, ''),
      waitForReadyMs: c.num(`${p}.waitForReadyMs`, cl.waitForReadyMs, 0, (n) => n >= 0 && n <= MAX_TIMER_MS, `must be a number of ms from 0 to ${MAX_TIMER_MS}`),
      reconnect: {
        initialDelayMs,
        maxDelayMs: c.num(`${p}.reconnect.maxDelayMs`, r.maxDelayMs, Math.max(DEFAULT_RECONNECT.maxDelayMs, initialDelayMs),
          (n) => n >= initialDelayMs && n <= MAX_TIMER_MS, `must be from initialDelayMs (${initialDelayMs}) to ${MAX_TIMER_MS}`),
        factor: c.num(`${p}.reconnect.factor`, r.factor, DEFAULT_RECONNECT.factor, (n) => n >= 1, 'must be a number >= 1'),
        jitter: c.num(`${p}.reconnect.jitter`, r.jitter, DEFAULT_RECONNECT.jitter, (n) => n >= 0 && n <= 1, 'must be a number from 0 to 1'),
      },
    };
  });

  return {
    nodeId: c.nodeId('nodeId', options.nodeId, defaultNodeId()),
    incarnation: randomBytes(8).toString('hex'),
    metadata: c.metadata('metadata', options.metadata),
    heartbeat: {
      intervalMs, missedBeats, suspectAfterBeats, resumeWindowMs, detectWithinMs, detector, adaptiveLevels: { ...DEFAULT_ADAPTIVE_LEVELS },
    },
    keepAlive: { enabled, idleMs, intervalMs: kaIntervalMs, probes, userTimeoutMs, noDelay },
    limits: { maxFrameBytes, handshakeTimeoutMs },
    server, clients,
    cluster: resolveClusterOptions(options.cluster),
  };
}
