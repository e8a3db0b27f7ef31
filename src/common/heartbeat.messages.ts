/** Error and log texts, in one place. */

/**
 * A peer-supplied value as it may appear in a log line: at most 200 characters, then escaped,
 * so a newline or a terminal escape from the wire cannot forge or garble log lines.
 */
export function peerText(value: unknown, max = 200): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Object.prototype.toString.call(value);
  }
  if (text.length > max) text = `${text.slice(0, max)}…`;
  // JSON escapes C0 controls, quotes and backslashes; DEL, C1 (a raw CSI is a terminal escape),
  // format characters and line separators it leaves as they are.
  return JSON.stringify(text).slice(1, -1).replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
const UNPRINTABLE = /[\u007f-\u009f\u2028\u2029\p{Cf}\p{Cs}]/gu;

/**
 * The text of anything thrown (an Error, a string, a Symbol, an object without a prototype, a
 * getter that throws), escaped and cut: never throws itself.
 */
export function safeErrorText(error: unknown): string {
  try {
    if (error instanceof Error) return peterOrText(error.name === 'Error' ? error.message : `${error.name}: ${error.message}`);
    if (typeof error === 'symbol') return peterOrText(error.toString());
    if (typeof error === 'object' && error !== null) {
      const message = (error as { message?: unknown }).message;
      if (typeof message === 'string') return peterOrText(message);
      return peterOrText(Object.prototype.toString.call(error));
    }
    return peterOrText(String(error));
  } catch {
    return 'a value that cannot be turned into text';
  }
}
const peterOrText = (text: string) => peerText(text, 500);

export const droppedLogLines = (count: number, kind: string, windowMs: number) =>
  `${count} more "${kind}" line${count === 1 ? '' : 's'} in the last ${windowMs / 1000} s not logged (a kind is logged at most 20 times per ${windowMs / 1000} s)`;

export const noPresenceForHealth = () =>
  'HeartbeatHealthIndicator: no PresenceService in this application; import HeartbeatModule.forRoot() (or forRootAsync()) in it';
export const invalidHealthCheck = (key: string, what: string, rule: string, value: unknown) =>
  `HeartbeatHealthIndicator.isHealthy("${key}"): ${what} ${rule} (got ${JSON.stringify(value) ?? String(value)})`;
export const noPresenceForDashboard = () =>
  'HeartbeatDashboardModule: no PresenceService in this application; import HeartbeatModule.forRoot() (or forRootAsync()) in it';
export const invalidDashboardOption = (name: string, rule: string, value: unknown) =>
  `nest-heartbeat: HeartbeatDashboardModule option "${name}" ${rule} (got ${typeof value === 'function' ? 'a function' : JSON.stringify(value) ?? String(value)})`;
export const noDashboardForRootAsync = () =>
  'nest-heartbeat: HeartbeatDashboardModule has no forRootAsync(); its path and guard make routes, which Nest fixes when the module is declared: use forRoot()';
export const invalidOption = (path: string, rule: string, value: unknown) =>
  `nest-heartbeat: option "${path}" ${rule} (got ${JSON.stringify(value) ?? String(value)})`;

export const unknownOption = (path: string, nearest: string | undefined) =>
  `nest-heartbeat: unknown option "${path}"${nearest ? ` (did you mean "${path.replace(/[^.\]]+$/, nearest)}"?)` : ''}`;

export const closingConnection = (who: string, why: string, reason: string) =>
  `Closing ${peerText(who)}: ${why} (${reason})`;

export const handshakeTimedOut = (ms: number) => `no handshake or data within ${ms} ms`;
export const handshakeEvicted = (max: number) => `handshake still unfinished when the server had ${max} pending (server.maxPendingHandshakes): made room for a newer socket`;
export const authRejected = (hasToken: boolean) =>
  hasToken ? 'wrong auth token' : 'no auth token (this server requires one)';
export const identityRefused = (nodeId: string, hasToken: boolean) =>
  `${hasToken ? 'the credential presented is not' : 'no credential presented for'} nodeId "${peerText(nodeId, 64)}"`;
export const authenticateFailed = (error: string) => `server.authenticate threw: ${error}`;
export const noClientCertificate = () => 'no verified client certificate (identityFromCertificate)';
export const certificateNameMismatch = (nodeId: string, names: string[]) =>
  `nodeId "${peerText(nodeId, 64)}" is not named by the client certificate (${names.length === 0 ? 'no CN or SAN DNS/URI names' : names.map((n) => `"${peerText(n, 64)}"`).join(', ')})`;
export const stockPrefixClaimed = () => 'nodeIds starting with "tcp:" belong to stock clients';
export const supersededIncarnation = (nodeId: string, holder: string, claimant: string) =>
  `nodeId "${peerText(nodeId, 64)}" is held by a newer process (connected from ${holder}); this one (from ${claimant}) was replaced by it. `
  + 'Two processes share that nodeId: give each its own (or leave nodeId unset for a unique default)';
export const tooManyLinks = (nodeId: string, max: number) => `nodeId "${peerText(nodeId, 64)}" already has ${max} links (server.maxLinksPerPeer)`;
export const identityMismatch = (address: string, expected: string, actual: string) =>
  `${address} welcomed us as "${peerText(actual, 64)}", not the expected "${peerText(expected, 64)}" (clients[].expectNodeId)`;
export const minPingBeyondDetection = (minPing: number, lostAfterMs: number) =>
  `the server asks for pings no faster than every ${minPing} ms, beyond this link's lost threshold (${lostAfterMs} ms): detection could not work`;
export const unauthenticatedServer = (host: string) =>
  `HeartbeatServer listens on ${host} without authentication: anyone who can reach the port may join as any nodeId. `
  + 'Set server.authTokens (or authenticate, identityFromCertificate, or a shared authToken); see docs/SECURITY.md';
export const unsupportedProtocol = (version: unknown) => `unsupported protocol version ${peerText(version, 32)}`;
export const unexpectedControlFrame = (kind: unknown, phase: string) => `unexpected "${peerText(kind, 32)}" frame while ${phase}`;
export const malformedBeat = (kind: string) => `malformed "${kind}" frame (seq and t must be finite numbers)`;
export const malformedIdentity = (frame: string, problem: string) => `malformed ${frame}: ${problem}`;
export const goodbyeGraceOver = (ms: number) => `still open ${ms} ms after the link ended`;
export const peerSilent = (silenceMs: number) => `silent for ${Math.round(silenceMs)} ms`;
export const tlsHandshakeFailed = (code: string) => `TLS handshake failed or timed out (${code})`;
export const slowReader = (bytes: number) => `peer does not read: ${bytes} bytes queued for it`;

export const frameTooLarge = (length: number, max: number) => `frame of ${length} exceeds maxFrameBytes ${max}`;
export const badLengthPrefix = (prefix: string) => `bad length prefix "${peerText(prefix, 16)}"`;
/** V8's parse error quotes the peer's bytes. */
export const invalidJson = (detail: string) => `invalid JSON (${peerText(detail)})`;
export const noEventHandler = (pattern: string) => `No handler for event pattern "${peerText(pattern)}"`;
export const frameNotObject = () => 'frame is not a JSON object';

export const handlerFailed = (owner: string, method: string, type: string) =>
  `Presence handler ${owner}.${method} failed on "${type}"`;
export const nonStaticHandler = (owner: string, method: string) =>
  `Cannot register @OnPeer handler ${owner}.${method}: its provider is request-scoped or transient; use a singleton provider`;

export const connectionClosed = (address: string, error?: string) =>
  `Connection to ${address} closed before the handshake${error ? ` (${peerText(error, 120)})` : ''}`;
export const handshakeRejected = (address: string, reason: string, message: unknown) =>
  `${address} refused the handshake (${peerText(reason, 32)}: ${peerText(message)})`;
export const authTokenRefused = (address: string, presented: boolean) => presented
  ? `${address} refused our auth token`
  : `${address} requires an auth token and this client has none (set clients[].authToken)`;
export const authRetryNotice = (address: string, delayMs: number, presented: boolean) => presented
  ? `${address} refuses our auth token; retrying every ${delayMs} ms (logged once; fix clients[].authToken)`
  : `${address} requires an auth token and this client has none; retrying every ${delayMs} ms (logged once; set clients[].authToken)`;
export const clientReconnecting = (address: string, delayMs: number, err: string) =>
  `cannot reach ${address} (${err}); retrying in ${delayMs} ms`;
export const keepAliveUnavailable = (err: string) =>
  `Cannot set TCP keepalive options on a socket (${err}); heartbeats still run`;
export const peerLost = (peerId: string, reason: string) => `Peer "${peerText(peerId)}" was lost (${reason})`;
export const peerLeft = (peerId: string) => `Peer "${peerText(peerId)}" left`;
export const linkLostInResumeWindow = (peerId: string, reason: string) =>
  `The link to "${peerText(peerId)}" closed (${reason}); the peer may resume, but requests in flight on it are failed`;
export const tooManyPings = (strikes: number, minMs: number) => `${strikes} pings sooner than the server's minimum interval of ${minMs} ms`;
export const pingFloorAdopted = (address: string, floorMs: number, ownMs: number) =>
  `${address} asks for pings no faster than every ${floorMs} ms: this link pings every ${floorMs} ms instead of ${ownMs} ms`;
export const replacedByNewIncarnation = () => 'a new incarnation of the same nodeId took its place';
export const derivedTiming = (budgetMs: number, intervalMs: number, missedBeats: number, idleMs: number, probes: number, probeMs: number) =>
  `heartbeat.detectWithinMs ${budgetMs}: a ping every ${intervalMs} ms, lost after ${missedBeats} missed; `
  + `kernel keepalive idle ${idleMs / 1000} s + ${probes} × ${probeMs / 1000} s`;
export const peerUnavailable = (peer: string, status: string, reason: string | undefined, nextAttemptInMs: number | undefined, detail?: string) =>
  `Peer "${peerText(peer)}" is unavailable (${status}${reason ? `: ${reason}` : ''}${detail ? `; ${peerText(detail, 120)}` : ''})`
  + (nextAttemptInMs === undefined ? '' : nextAttemptInMs === 0 ? '; connecting now' : `; next attempt in ${Math.round(nextAttemptInMs)} ms`);

export const metricsUnavailable = (err: string) => `OpenTelemetry metrics are off: ${err}`;
export const noShutdownHooks = (signals: string[]) =>
  `${signals.join(' and ')} will not run shutdown hooks: no goodbye is sent, so peers will report this process lost ` +
  '(closed-without-goodbye) instead of left on every deploy. Call app.enableShutdownHooks() ' +
  '(before app.listen(), or right after NestFactory.createApplicationContext())';

const attempts = (n: number) => `${n} attempt${n === 1 ? '' : 's'}`;
export const clientConnected = (peerId: string, address: string, tries: number) =>
  `connected to "${peerText(peerId)}" at ${address}${tries > 1 ? ` after ${attempts(tries)}` : ''}`;
export const clientPeerLost = (peerId: string, address: string, reason: string | undefined, delayMs: number) =>
  `lost "${peerText(peerId)}" at ${address}${reason ? ` (${reason})` : ''}; reconnecting in ${delayMs} ms`;
export const clientPeerDraining = (peerId: string, address: string) =>
  `"${peerText(peerId)}" at ${address} is draining (shutting down gracefully): new requests wait for a new connection, made now`;
export const clientPeerLeft = (peerId: string, address: string, delayMs: number) =>
  `"${peerText(peerId)}" at ${address} left (said goodbye); reconnecting in ${delayMs} ms`;
export const clientStillUnreachable = (address: string, tries: number, err: string, everyMs: number) =>
  `still cannot reach ${address} after ${attempts(tries)} (${err}); retrying every ${everyMs} ms`;
export const clientReconnected = (peerId: string, address: string, tries: number, downMs: number) =>
  `reconnected to "${peerText(peerId)}" at ${address} after ${attempts(tries)} (${(downMs / 1000).toFixed(1)} s down)`;
export const peerJoined = (peerId: string, address: string) => `Peer "${peerText(peerId)}" joined from ${address}`;
export const peerSuspect = (peerId: string, silentMs: number) => `Peer "${peerText(peerId)}" is suspect (last heard ${Math.round(silentMs)} ms ago)`;
export const peerRecovered = (peerId: string) => `Peer "${peerText(peerId)}" recovered`;

export const ioredisMissing = () =>
  'nest-heartbeat: option "cluster" needs the ioredis package; install it with `npm install ioredis`';
export const clusterDegraded = (why: string) =>
  `Cluster presence degraded, Redis does not answer as it should (${why}): cluster view frozen until it does, local presence goes on`;
export const clusterUnreachableAtBoot = (where: string, why: string) =>
  `Redis at ${where} does not answer at boot (${why}): cluster presence starts degraded and joins the cluster when Redis answers; local presence goes on`;
export const clusterConnected = (replicaId: string) => `Connected to Redis as replica ${replicaId}`;
export const clusterFenced = (oldId: string, newId: string) =>
  `Replica ${oldId} lost its lease (reaped while it could not renew it, or Redis lost it); re-registered as ${newId}`;
export const clusterReadonlyGivenClient = () =>
  'Redis answered READONLY: the ioredis client given as cluster.redis is left on a demoted primary after a failover; '
  + 'give it reconnectOnError (as docs/CLUSTER.md shows) so that it reconnects to the new one';
/** The boot line: which namespace, on which Redis, as which replica, and who else is in it. */
export const clusterJoined = (namespace: string, where: string, replicaId: string, others: Array<{ id: string; peers: number }>, isDefault: boolean) => {
  const shown = others.slice(0, 10).map((r) => `${r.id} (${r.peers} peer${r.peers === 1 ? '' : 's'})`).join(', ');
  const more = others.length > 10 ? ` and ${others.length - 10} more` : '';
  const list = others.length === 0 ? 'no other replica' : `${others.length} other replica${others.length === 1 ? '' : 's'}: ${shown}${more}`;
  const warning = isDefault
    ? `. "${namespace}" is the default namespace: every service using this Redis without cluster.namespace shares it; set cluster.namespace to keep services apart`
    : '';
  return `Cluster presence in namespace "${namespace}" on ${where} as replica ${replicaId}; ${list}${warning}`;
};
export const clusterResync = (why: string) => `Cluster view resynchronised from Redis (${why})`;
export const clusterBadData = (where: string, why: string) => `Skipped bad data in Redis (${peerText(where)}): ${peerText(why)}`;
export const clusterReplicaLost = (replicaId: string, peers: number) => `Replica ${peerText(replicaId)} was lost with ${peers} peer(s)`;
export const clusterHandlerOnly = (owner: string, method: string) =>
  `@OnCluster*/@OnReplicaLost handler ${owner}.${method} will never run: option "cluster" is not configured`;
