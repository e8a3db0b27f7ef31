/**
 * ioredis is an optional peer dependency, so an app without it must type-check against our
 * declarations with `skipLibCheck: false`, cluster options included: the public types describe
 * the Redis client they accept structurally instead of importing ioredis. The packed package
 * (the compat specs' tarball, packed once per source state) is unpacked into a throwaway
 * node_modules that links the dependencies an app has, ioredis not among them.
 */
import { execFile } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanUp, exec, packOnce, ROOT, tempDir } from '../compat/support/package-fixture.js';

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const LINKED = ['@nestjs/common', '@nestjs/core', '@nestjs/microservices', 'rxjs', 'reflect-metadata', '@types/node', 'tslib'];

function tsc(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TSC, ...args], { cwd, timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: `${stdout}${stderr}` }));
  });
}

let dir: string;
beforeAll(async () => {
  const tarball = await packOnce();
  dir = await tempDir('no-ioredis');
  const pkg = join(dir, 'node_modules', 'nest-heartbeat');
  await mkdir(pkg, { recursive: true });
  await exec('tar', ['xzf', tarball, '-C', pkg, '--strip-components=1'], { cwd: dir });
  for (const name of LINKED) {
    const target = join(ROOT, 'node_modules', name);
    await mkdir(join(dir, 'node_modules', name, '..'), { recursive: true });
    await symlink(target, join(dir, 'node_modules', name), 'dir').catch(() => undefined);
  }
}, 120_000);

afterAll(() => cleanUp());

it('an app without ioredis type-checks the cluster options and API with skipLibCheck false', async () => {
  await writeFile(join(dir, 'app.mts'), [
    "import { HeartbeatModule, PresenceService, type ClusterOptions, type ClusterPeerInfo } from 'nest-heartbeat';",
    "const byUrl: ClusterOptions = { redis: 'rediss://user:secret@redis.internal:6380', namespace: 'orders' };",
    "const byOptions: ClusterOptions = { redis: { host: '127.0.0.1', port: 6379, password: 'x', tls: {}, keyPrefix: 'ignored-by-us' } };",
    "const bySentinel: ClusterOptions = { redis: { sentinels: [{ host: 's1', port: 26379 }], name: 'mymaster' } };",
    'export const modules = [HeartbeatModule.forRoot({ cluster: byUrl }), HeartbeatModule.forRoot({ cluster: byOptions }), bySentinel];',
    'export function alive(presence: PresenceService): ClusterPeerInfo[] {',
    '  return presence.cluster?.peers().filter((p) => presence.cluster!.isAlive(p.id)) ?? [];',
    '}',
    '// @ts-expect-error a number is not a Redis client, options or URL',
    'export const wrong: ClusterOptions = { redis: 6379 };',
    '',
  ].join('\n'));
  const { code, out } = await tsc(['--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'es2022', '--module', 'nodenext',
    '--moduleResolution', 'nodenext', '--experimentalDecorators', '--types', 'node', 'app.mts'], dir);
  expect(out).not.toMatch(/ioredis/);
  expect({ code, out }).toEqual({ code: 0, out: '' });
}, 120_000);
