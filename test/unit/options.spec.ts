import { resolveHeartbeatOptions } from '../../src/options/resolve-options.js';
import type { HeartbeatModuleOptions } from '../../src/interfaces/heartbeat-options.interface.js';

describe('options: defaults and validation', () => {
  it('fills every documented default', () => {
    const o = resolveHeartbeatOptions({ server: {}, clients: [{ name: 'A' }] });
    expect(o.nodeId).toMatch(/^.+-\d+-[0-9a-f]{6}$/);
    expect(o.heartbeat).toEqual({
      intervalMs: 1000, missedBeats: 3, suspectAfterBeats: 1, resumeWindowMs: 0,
      rule: { suspectAfterMs: 1500, lostAfterMs: 3500, pingAfterMs: 1000, tickMs: 100 },
    });
    expect(o.incarnation).toMatch(/^[0-9a-f]{16}$/);
    expect(o.keepAlive).toEqual({ enabled: true, idleMs: 5000, intervalMs: 1000, probes: 4, userTimeoutMs: 9000, noDelay: true });
    expect(o.server).toEqual({
      host: '127.0.0.1', port: 3000, tlsOptions: undefined, identity: { mode: 'none', certificate: false },
      minPingIntervalMs: 100, drainTimeoutMs: 5000, maxConnections: 100_000, maxPendingHandshakes: 1000,
    });
    expect(o.presence).toEqual({ retainMs: 60_000, maxRetained: 10_000, maxLinksPerPeer: 8 });
    expect(o.limits).toEqual({ maxFrameBytes: 4 * 1024 * 1024, handshakeTimeoutMs: 10_000 });
    expect(o.clients[0]).toMatchObject({ name: 'A', host: '127.0.0.1', port: 3000, waitForReadyMs: 0, reconnect: { initialDelayMs: 200, maxDelayMs: 5000, factor: 2, jitter: 0.2 } });
  });

  it('finds a half-open idle link within 10 s with the keepalive defaults', () => {
    const { keepAlive: k } = resolveHeartbeatOptions();
    expect(k.idleMs + k.probes * k.intervalMs).toBeLessThanOrEqual(10_000);
    expect(k.userTimeoutMs).toBeLessThanOrEqual(10_000);
  });

  it.each([
    [400, 100, { idleMs: 1000, intervalMs: 1000, probes: 1 }],
    [4000, 1000, { idleMs: 4000, intervalMs: 1000, probes: 4 }],
    [10_000, 2500, { idleMs: 10_000, intervalMs: 1000, probes: 10 }],
  ])('detectWithinMs %i: interval %i ms and a kernel keepalive within twice the budget', (budget, interval, keepAlive) => {
    const o = resolveHeartbeatOptions({ heartbeat: { detectWithinMs: budget } });
    expect(o.heartbeat.intervalMs).toBe(interval);
    expect(o.heartbeat.detectWithinMs).toBe(budget);
    expect((o.heartbeat.missedBeats + 1) * o.heartbeat.intervalMs).toBeLessThanOrEqual(budget);
    expect(o.keepAlive).toMatchObject(keepAlive);
    expect(o.keepAlive.idleMs + o.keepAlive.probes * o.keepAlive.intervalMs).toBeLessThanOrEqual(Math.max(2000, 2 * budget));
    expect(o.keepAlive.userTimeoutMs).toBe(o.keepAlive.idleMs + o.keepAlive.probes * o.keepAlive.intervalMs);
  });

  it.each<[string, HeartbeatModuleOptions, RegExp]>([
    ['detectWithinMs and intervalMs together', { heartbeat: { detectWithinMs: 4000, intervalMs: 1000 } }, /"heartbeat\.detectWithinMs" cannot be given together with heartbeat\.intervalMs/],
    ['a detection budget too small for a 10 ms interval', { heartbeat: { detectWithinMs: 30 } }, /"heartbeat\.detectWithinMs" must be a number of ms from 40/],
    ['negative resume window', { heartbeat: { resumeWindowMs: -1 } }, /"heartbeat\.resumeWindowMs"/],
    ['negative minPingIntervalMs', { server: { minPingIntervalMs: -5 } }, /"server\.minPingIntervalMs"/],
    ['negative interval', { heartbeat: { intervalMs: -5 } }, /"heartbeat\.intervalMs" must be a number of ms from 10 to 2147483647 \(got -5\)/],
    ['interval below 10 ms (a healthy link would flap)', { heartbeat: { intervalMs: 1 } }, /"heartbeat\.intervalMs" must be a number of ms from 10/],
    ['interval past the timer limit', { heartbeat: { intervalMs: 2 ** 31 } }, /"heartbeat\.intervalMs"/],
    ['handshake timeout shorter than two ticks', { heartbeat: { intervalMs: 1000 }, server: { handshakeTimeoutMs: 150 } }, /"server\.handshakeTimeoutMs" must be a number of ms from 200/],
    ['reconnect delay past the timer limit (Node would fire it after 1 ms)', { clients: [{ name: 'A', reconnect: { maxDelayMs: 2 ** 31 } }] }, /"clients\[0\]\.reconnect\.maxDelayMs" must be from initialDelayMs \(200\) to 2147483647/],
    ['initial reconnect delay past the timer limit', { clients: [{ name: 'A', reconnect: { initialDelayMs: 2 ** 32 } }] }, /"clients\[0\]\.reconnect\.initialDelayMs"/],
    ['negative waitForReadyMs', { clients: [{ name: 'A', waitForReadyMs: -1 }] }, /"clients\[0\]\.waitForReadyMs"/],
    ['user timeout past the timer limit', { keepAlive: { userTimeoutMs: 2 ** 31 } }, /"keepAlive\.userTimeoutMs"/],
    ['nodeId over 256 characters', { nodeId: 'n'.repeat(257) }, /"nodeId" must be at most 256 characters/],
    ['nodeId with a newline', { nodeId: 'a\nb' }, /"nodeId" must contain printable characters only/],
    ['metadata over 64 keys', { metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }, /"metadata" must have at most 64 keys/],
    ['metadata over 4 KiB', { metadata: { big: 'x'.repeat(4097) } }, /"metadata" must be at most 4096 bytes/],
    ['missedBeats < 1', { heartbeat: { missedBeats: 0 } }, /"heartbeat\.missedBeats" must be an integer >= 1/],
    ['suspectAfterBeats > missedBeats', { heartbeat: { missedBeats: 2, suspectAfterBeats: 3 } }, /"heartbeat\.suspectAfterBeats"/],
    ['port out of range', { server: { port: 70000 } }, /"server\.port" must be an integer from 0 to 65535 \(got 70000\)/],
    ['client port 0', { clients: [{ name: 'A', port: 0 }] }, /"clients\[0\]\.port"/],
    ['keepalive idle not whole seconds', { keepAlive: { idleMs: 1500 } }, /"keepAlive\.idleMs" must be a whole number of seconds/],
    ['NaN probes', { keepAlive: { probes: Number.NaN } }, /"keepAlive\.probes"/],
    ['duplicate client names', { clients: [{ name: 'A' }, { name: 'A' }] }, /"clients\[1\]\.name" must be unique/],
    ['jitter > 1', { clients: [{ name: 'A', reconnect: { jitter: 2 } }] }, /"clients\[0\]\.reconnect\.jitter"/],
    ['maxDelay < initialDelay', { clients: [{ name: 'A', reconnect: { initialDelayMs: 500, maxDelayMs: 100 } }] }, /"clients\[0\]\.reconnect\.maxDelayMs"/],
    ['non-string metadata', { metadata: { version: 2 } as never }, /"metadata" must be an object of string values/],
    ['empty nodeId', { nodeId: '' }, /"nodeId" must be a non-empty string/],
    ['noDelay not a boolean', { keepAlive: { noDelay: 'yes' as never } }, /"keepAlive\.noDelay" must be a boolean/],
    ['tiny maxFrameBytes', { server: { maxFrameBytes: 10 } }, /"server\.maxFrameBytes"/],
    ['a misspelt key (case)', { heartbeat: { intervalMS: 500 } } as never, /unknown option "heartbeat\.intervalMS" \(did you mean "heartbeat\.intervalMs"\?\)/],
    ['a misspelt key (typo)', { server: { handshakeTimoutMs: 500 } } as never, /unknown option "server\.handshakeTimoutMs" \(did you mean "server\.handshakeTimeoutMs"\?\)/],
    ['a misspelt top-level key', { heartBeat: {} } as never, /unknown option "heartBeat" \(did you mean "heartbeat"\?\)/],
    ['a key far from any known one', { keepAlive: { frobnicate: 1 } } as never, /unknown option "keepAlive\.frobnicate"$/],
    ['a misspelt key in a client entry', { clients: [{ name: 'A', reconect: {} }] } as never, /unknown option "clients\[0\]\.reconect" \(did you mean "clients\[0\]\.reconnect"\?\)/],
    ['a misspelt key under reconnect', { clients: [{ name: 'A', reconnect: { maxDelay: 1 } }] } as never, /unknown option "clients\[0\]\.reconnect\.maxDelay" \(did you mean "clients\[0\]\.reconnect\.maxDelayMs"\?\)/],
    ['a misspelt cluster key', { cluster: { redis: 'redis://x', leaseTTLMs: 5 } } as never, /unknown option "cluster\.leaseTTLMs" \(did you mean "cluster\.leaseTtlMs"\?\)/],
    ['authToken with authTokens', { server: { authToken: 'x', authTokens: { a: 'y' } } }, /"server\.authTokens" cannot be given together with server\.authToken/],
    ['authTokens with authenticate', { server: { authTokens: { a: 'y' }, authenticate: () => true } }, /"server\.authenticate" cannot be given together with server\.authTokens/],
    ['identityFromCertificate without TLS client certificates', { server: { identityFromCertificate: true } }, /"server\.identityFromCertificate" needs server\.tlsOptions with requestCert: true/],
    ['an authTokens entry that is not a token', { server: { authTokens: { a: '' } } }, /"server\.authTokens\["a"\]" must be a non-empty string/],
    ['an authTokens key that is not a nodeId', { server: { authTokens: { 'a\nb': 't' } } }, /"server\.authTokens\["a\nb"\]" key: the nodeId must contain printable characters only/],
    ['an expectNodeId that is not a nodeId', { clients: [{ name: 'A', expectNodeId: '' }] }, /"clients\[0\]\.expectNodeId" must be a non-empty string/],
    ['maxPendingHandshakes 0', { server: { maxPendingHandshakes: 0 } }, /"server\.maxPendingHandshakes" must be an integer >= 1/],
    ['negative presence.retainMs', { presence: { retainMs: -1 } }, /"presence\.retainMs"/],
    ['a misspelt presence key', { presence: { maxRetain: 5 } } as never, /unknown option "presence\.maxRetain" \(did you mean "presence\.maxRetained"\?\)/],
    ['a port string that is not a number', { server: { port: '40a0' } } as never, /"server\.port" must be an integer from 0 to 65535/],
  ])('rejects %s, naming the option', (_what, options, message) => {
    expect(() => resolveHeartbeatOptions(options)).toThrow(message);
  });

  it('takes ports given as strings of digits (environment variables, config services)', () => {
    const o = resolveHeartbeatOptions({ server: { port: '4000' as never }, clients: [{ name: 'A', port: '4001' as never }] });
    expect(o.server?.port).toBe(4000);
    expect(o.clients[0].port).toBe(4001);
  });
});
