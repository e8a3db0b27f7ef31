/**
 * `npm install git+…` of this repository yields a usable package: npm clones it, installs its dev
 * dependencies and runs `prepare`, which builds dist/. Installs the committed HEAD (a fresh
 * clone in CI); uncommitted changes are not part of it.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cleanUp, exec, ROOT, tempDir } from './support/package-fixture.js';

afterAll(() => cleanUp());

test('npm install git+file://<clone>#<HEAD> builds dist/ through prepare; both entry points load', async () => {
  const head = (await exec('git', ['rev-parse', 'HEAD'], { cwd: ROOT })).stdout.trim();
  const dir = await tempDir('git-install');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'git-consumer', private: true }));

  const source = `git+${pathToFileURL(ROOT).href.replace(/\/$/, '')}#${head}`;
  await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', source, '@nestjs/terminus@12'], { cwd: dir });

  const installed = join(dir, 'node_modules', 'nest-heartbeat');
  expect(await readdir(join(installed, 'dist'))).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'health']));
  const probe = [
    "const root = require('nest-heartbeat'), terminus = require('nest-heartbeat/terminus');",
    'console.log(typeof root.HeartbeatModule, typeof root.PeerLostError, typeof terminus.HeartbeatHealthIndicator);',
  ].join('\n');
  const { stdout } = await exec(process.execPath, ['-e', probe], { cwd: dir });
  expect(stdout.trim()).toBe('function function function');
}, 300_000);
