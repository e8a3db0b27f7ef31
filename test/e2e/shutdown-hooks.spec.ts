import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * The one-time warning when SIGTERM would not run Nest's shutdown hooks. Each case is a fresh
 * process (the warning is once per process, and the test runner's own signal listeners must
 * not count): real Nest applications booted the way the mode names.
 */
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'shutdown-hooks-app.ts');

interface Line { evt: string; level?: string; message?: string; context?: string; sigterm?: number; sigint?: number }

/** Each fixture mode runs once; all are started together (each waits about a second for the check). */
const runs = new Map<string, Promise<{ warnings: Line[]; start: Line }>>();
const MODES = ['microservice', 'microservice-with-hooks', 'microservice-init-then-hooks', 'context', 'context-with-hooks', 'own-sigterm-handler', 'two-apps'];
beforeAll(() => {
  for (const mode of MODES) runs.set(mode, runChild(mode));
  for (const p of runs.values()) p.catch(() => undefined); // each test reports its own failure
});
const run = (mode: string) => runs.get(mode)!;

async function runChild(mode: string): Promise<{ warnings: Line[]; start: Line }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const lines: Line[] = [];
  const other: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try { lines.push(JSON.parse(l)); } catch { other.push(l); }
  });
  createInterface({ input: child.stderr! }).on('line', (l) => other.push(l));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  expect({ code, done: lines.some((l) => l.evt === 'done'), other }).toEqual({ code: 0, done: true, other: [] });
  const start = lines.find((l) => l.evt === 'start')!;
  // Nothing but Nest registers signal listeners in the fixture, so the check sees only Nest's.
  expect(start).toMatchObject({ sigterm: 0, sigint: 0 });
  const warnings = lines.filter((l) => l.evt === 'log' && /shutdown hooks/.test(l.message ?? ''));
  return { warnings, start };
}

describe('warning when SIGTERM would not run shutdown hooks', () => {
  it('warns once, saying how to fix it, for a microservice without enableShutdownHooks()', async () => {
    const { warnings } = await run('microservice');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', context: 'HeartbeatModule' });
    expect(warnings[0].message).toMatch(/^SIGTERM and SIGINT will not run shutdown hooks/);
    expect(warnings[0].message).toMatch(/lost \(closed-without-goodbye\) instead of left/);
    expect(warnings[0].message).toMatch(/app\.enableShutdownHooks\(\)/);
  });

  it('does not warn when the microservice enables shutdown hooks', async () => {
    expect((await run('microservice-with-hooks')).warnings).toEqual([]);
  });

  it('does not warn when the microservice enables them between init() and listen()', async () => {
    expect((await run('microservice-init-then-hooks')).warnings).toEqual([]);
  });

  it('warns for an application context without enableShutdownHooks()', async () => {
    expect((await run('context')).warnings).toHaveLength(1);
  });

  it('does not warn when hooks are enabled right after createApplicationContext (which bootstraps before it returns)', async () => {
    expect((await run('context-with-hooks')).warnings).toEqual([]);
  });

  it('does not warn when the application closes itself in its own SIGTERM handler', async () => {
    expect((await run('own-sigterm-handler')).warnings).toEqual([]);
  });

  it('warns once per process, not once per application', async () => {
    expect((await run('two-apps')).warnings).toHaveLength(1);
  });
});
