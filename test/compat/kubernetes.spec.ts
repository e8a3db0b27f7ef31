/**
 * docs/KUBERNETES.md: every manifest parses, and its numbers agree with the library's defaults
 * and with the program it deploys (examples/kubernetes.ts, which apps.spec.ts compiles and runs):
 * ports, probe paths, the grace period against preStop + drain + goodbye, the probe timings the
 * text states against the detection bound.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLOSE_GRACE_MS } from '../../src/common/heartbeat.constants.js';
import { resolveHeartbeatOptions } from '../../src/options/resolve-options.js';
import { ROOT } from './support/package-fixture.js';

const DOC = join(ROOT, 'docs', 'KUBERNETES.md');
const EXAMPLE = join(ROOT, 'examples', 'kubernetes.ts');
/** Kubernetes's default when a pod spec gives none. */
const DEFAULT_GRACE_SECONDS = 30;
/** What the rest of a Nest application's shutdown (HTTP server, other hooks, exit) may take. */
const SHUTDOWN_MARGIN_MS = 1000;

type Manifest = Record<string, any>;
const text = await readFile(DOC, 'utf8');
const example = await readFile(EXAMPLE, 'utf8');
const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
const manifests: Manifest[] = blocks.flatMap((block) => parseAllDocuments(block).map((doc) => {
  if (doc.errors.length) throw new Error(`docs/KUBERNETES.md: a manifest does not parse: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS() as Manifest;
}));
const deployment = manifests.find((m) => m.kind === 'Deployment')!;
const service = manifests.find((m) => m.kind === 'Service')!;
const pod = deployment?.spec?.template?.spec;
const container = pod?.containers?.[0];
const env = Object.fromEntries((container?.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]));
/** A probe's or a Service's port: a number, or the name of one of the container's ports. */
const portNumber = (port: number | string) => (typeof port === 'number' ? port : container.ports.find((p: any) => p.name === port)?.containerPort);
/** The library's defaults, as the module resolves them for a server. */
const defaults = resolveHeartbeatOptions({ server: {} });
const detectionBoundMs = (defaults.heartbeat.missedBeats + 1) * defaults.heartbeat.intervalMs;
const drainTimeoutMs = defaults.server!.drainTimeoutMs;

/** The default a `Number(process.env.NAME ?? n)` in the example falls back to. */
function exampleDefault(name: string): number {
  const m = new RegExp(`process\\.env\\.${name} \\?\\? (\\d+)`).exec(example);
  if (!m) throw new Error(`examples/kubernetes.ts reads no ${name}`);
  return Number(m[1]);
}

/** The example's HTTP routes under its health controller, with whether each calls the peer indicator. */
function healthRoutes(): Array<{ path: string; checksPeers: boolean }> {
  const base = /@Controller\('([^']+)'\)\s*class HealthController/.exec(example)![1];
  const routes: Array<{ path: string; checksPeers: boolean }> = [];
  const re = /@Get\('([^']+)'\)([\s\S]*?)\n {2}}\n/g;
  for (const m of example.matchAll(re)) routes.push({ path: `/${base}/${m[1]}`, checksPeers: /isHealthy\(/.test(m[2]) });
  return routes;
}

test('the manifests parse: a Deployment and a Service whose selector picks its pods', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(2);
  expect(manifests.map((m) => `${m.apiVersion} ${m.kind}`)).toEqual(expect.arrayContaining(['apps/v1 Deployment', 'v1 Service']));
  expect(deployment.spec.selector.matchLabels).toEqual(service.spec.selector);
  expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
});

test('the container runs the example with node (SIGTERM reaches Nest), listening beyond loopback on the example\'s ports', () => {
  expect(container.command[0]).toBe('node');
  expect(container.command[1]).toBe('dist/kubernetes.js');
  // Both transports must be reachable from other pods and from the kubelet.
  expect(env.HOST).toBe('0.0.0.0');
  expect(env.HTTP_HOST).toBe('0.0.0.0');
  expect(portNumber('heartbeat')).toBe(Number(env.PORT));
  expect(portNumber('http')).toBe(Number(env.HTTP_PORT));
  expect(Number(env.HTTP_PORT)).toBe(exampleDefault('HTTP_PORT'));
  // Every service serves the heartbeat transport on the port its callers use for orders.
  expect(Number(env.PORT)).toBe(exampleDefault('ORDERS_PORT'));
  expect(Number(env.ORDERS_PORT)).toBe(exampleDefault('ORDERS_PORT'));
  // The Service forwards its port to the heartbeat transport; callers use that port.
  const ports = service.spec.ports as Array<{ port: number; targetPort: number | string }>;
  expect(ports.map((p) => portNumber(p.targetPort))).toEqual([Number(env.PORT)]);
  expect(ports[0].port).toBe(Number(env.ORDERS_PORT));
});

test('liveness checks only the process, readiness the peers: the probe paths are the example\'s routes', () => {
  const routes = healthRoutes();
  const live = container.livenessProbe.httpGet;
  const ready = container.readinessProbe.httpGet;
  expect(portNumber(live.port)).toBe(Number(env.HTTP_PORT));
  expect(portNumber(ready.port)).toBe(Number(env.HTTP_PORT));
  expect(routes).toEqual(expect.arrayContaining([{ path: live.path, checksPeers: false }, { path: ready.path, checksPeers: true }]));
  expect(live.path).not.toBe(ready.path);
});

test('the grace period covers preStop + drainTimeoutMs + the goodbyes + the rest of the shutdown', () => {
  const preStopMs = pod.containers[0].lifecycle.preStop.sleep.seconds * 1000;
  const graceMs = (pod.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
  expect(drainTimeoutMs).toBe(5000); // the figure the text uses
  expect(graceMs).toBeGreaterThan(preStopMs + drainTimeoutMs + CLOSE_GRACE_MS + SHUTDOWN_MARGIN_MS);
  // preStop waits for the endpoint removal to spread, and leaves the drain most of the period.
  expect(preStopMs).toBeGreaterThanOrEqual(1000);
  expect(preStopMs).toBeLessThan(graceMs - drainTimeoutMs);
  expect(text).toContain(`${preStopMs / 1000} s +\n${drainTimeoutMs / 1000} s + ${CLOSE_GRACE_MS / 1000} s`);
});

test('a rolling update that keeps every replica serving: one surge pod, none unavailable', () => {
  expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
});

test('the probe timings the text states follow from the probes and the detection bound', () => {
  const ready = container.readinessProbe;
  const live = container.livenessProbe;
  const outOfServiceS = (detectionBoundMs + ready.periodSeconds * ready.failureThreshold * 1000) / 1000;
  expect(text).toContain(`within ${detectionBoundMs / 1000} + ${ready.failureThreshold} × ${ready.periodSeconds} = **${outOfServiceS} s**`);
  expect(text).toContain(`\`(missedBeats\n+ 1) × intervalMs\` = ${detectionBoundMs / 1000} s with the defaults`);
  expect(text).toContain(`${live.failureThreshold} × ${live.periodSeconds} = **${live.failureThreshold * live.periodSeconds} s**`);
  // Readiness reacts no slower than twice the detection bound; liveness tolerates far longer stalls.
  expect(outOfServiceS * 1000).toBeLessThanOrEqual(2 * detectionBoundMs);
  expect(live.periodSeconds * live.failureThreshold * 1000).toBeGreaterThan(2 * outOfServiceS * 1000);
  for (const probe of [ready, live]) expect(probe.timeoutSeconds).toBeGreaterThanOrEqual(1);
  // The example's clients wait for a moved link no longer than the drain lasts.
  const wait = Number(/waitForReadyMs: (\d+)/.exec(example)![1]);
  expect(text).toContain(`\`waitForReadyMs\` (${wait / 1000} s in the example)`);
  expect(wait).toBeLessThanOrEqual(drainTimeoutMs);
});
