/**
 * ioredis is an optional peer dependency: the package root must not load it, and `cluster`
 * without it must fail the boot with a message saying what to install. Checked in real Node
 * processes where a loader hook makes `ioredis` unresolvable.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = join(dirname(fileURLToPath(import.meta.url)), 'support');

function boot(mode: 'plain' | 'cluster') {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', join(here, 'register-no-ioredis.mjs'), join(here, 'boot-probe.ts'), mode],
    { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 30_000 });
  return { out: r.stdout, err: r.stderr };
}

it('the package root boots without ioredis installed and never tries to load it', () => {
  const { out, err } = boot('plain');
  expect(out).toContain('BOOTED');
  expect(err).not.toContain('IOREDIS-RESOLVED');
});

it('`cluster` without ioredis fails the boot and says how to install it', () => {
  const { out, err } = boot('cluster');
  expect(err).toContain('IOREDIS-RESOLVED'); // the hook works: ioredis was asked for, here only
  expect(out).toMatch(/FAILED nest-heartbeat: option "cluster" needs the ioredis package; install it with `npm install ioredis`/);
});
