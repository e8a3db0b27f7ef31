/**
 * What `npm pack` ships: files, source maps, the exports map under every TypeScript resolution
 * mode, and modules that CommonJS can require() (no top-level await).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { cleanUp, exec, linkPackage, ROOT } from './support/package-fixture.js';

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push(...(entry.isDirectory() ? await walk(path) : [path]));
  }
  return out;
}

describe('the packed package', () => {
  let dir: string;
  let pkg: string;
  let files: string[];

  beforeAll(async () => {
    dir = await linkPackage();
    pkg = join(dir, 'node_modules', 'nest-heartbeat');
    files = (await walk(pkg)).map((f) => relative(pkg, f)).sort();
  }, 120_000);

  afterAll(() => cleanUp());

  test('ships dist/, the sources its maps point at, docs, the README, the LICENSE and what the docs link to: no tests, benchmark code or demo', () => {
    expect(files).toEqual(expect.arrayContaining([
      'package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/health/index.js', 'src/index.ts',
      'examples/server.ts', 'examples/tsconfig.json', 'bench/RESULTS.md',
    ]));
    const top = new Set(files.map((f) => f.split('/')[0]));
    expect([...top].sort()).toEqual(['LICENSE', 'README.md', 'bench', 'dist', 'docs', 'examples', 'package.json', 'src']);
    // Of bench/ only the result pages; of examples/ only the programs and their tsconfig (no build output).
    expect(files.filter((f) => f.startsWith('bench/') && !/^bench\/(RESULTS\.md|analysis\/[^/]+\.md)$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('examples/') && !/^examples\/([^/]+\.ts|tsconfig\.json)$/.test(f))).toEqual([]);
  });

  test('every relative link of README.md and docs/*.md leads to a file of the installed package', async () => {
    const pages = files.filter((f) => f === 'README.md' || /^docs\/[^/]+\.md$/.test(f));
    expect(pages.length).toBeGreaterThanOrEqual(5);
    const broken: string[] = [];
    let links = 0;
    for (const page of pages) {
      const text = await readFile(join(pkg, page), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue; // absolute URL
        links++;
        const path = relative(pkg, resolve(pkg, dirname(page), target));
        // A file, or a directory the package holds files under (`examples/`).
        if (!files.includes(path) && !files.some((f) => f.startsWith(`${path.replace(/\/$/, '')}/`))) broken.push(`${page} -> ${target}`);
      }
    }
    expect(links).toBeGreaterThan(20);
    expect(broken).toEqual([]);
  });

  test('every source map (.js.map and .d.ts.map) points at a source file the package contains', async () => {
    const maps = files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(await readFile(join(pkg, map), 'utf8'));
      expect(sources.length).toBeGreaterThan(0);
      for (const source of sources as string[]) {
        const target = relative(pkg, resolve(dirname(join(pkg, map)), sourceRoot, source));
        if (!files.includes(target)) missing.push(`${map} -> ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });

  test('every module can be require()d from CommonJS (no top-level await) and both entry points import()ed from ESM', async () => {
    await writeFile(join(dir, 'require-all.cjs'), `
      const { readdirSync } = require('node:fs');
      const { join } = require('node:path');
      const root = join(__dirname, 'node_modules', 'nest-heartbeat', 'dist');
      const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]);
      const modules = walk(root).filter((f) => f.endsWith('.js'));
      for (const file of modules) require(file);
      const root_ = require('nest-heartbeat'), terminus = require('nest-heartbeat/terminus');
      console.log(JSON.stringify({ modules: modules.length, root: typeof root_.HeartbeatModule, terminus: typeof terminus.HeartbeatHealthIndicator }));
    `);
    const cjs = JSON.parse((await exec(process.execPath, ['require-all.cjs'], { cwd: dir })).stdout);
    expect(cjs).toEqual({ modules: files.filter((f) => f.startsWith('dist/') && f.endsWith('.js')).length, root: 'function', terminus: 'function' });

    await writeFile(join(dir, 'import.mjs'), `
      const root = await import('nest-heartbeat'), terminus = await import('nest-heartbeat/terminus');
      const cjs = (await import('node:module')).createRequire(import.meta.url)('nest-heartbeat');
      console.log(JSON.stringify({ root: typeof root.HeartbeatModule, terminus: typeof terminus.HeartbeatHealthIndicator, same: cjs.HeartbeatModule === root.HeartbeatModule }));
    `);
    const esm = JSON.parse((await exec(process.execPath, ['import.mjs'], { cwd: dir })).stdout);
    expect(esm).toEqual({ root: 'function', terminus: 'function', same: true }); // one module instance, not a dual package
  }, 30_000);

  // `.cts` is CommonJS and `.mts` is ESM whatever package.json says; `.ts` follows the config.
  test.each([
    { resolution: 'node10 (module commonjs, the classic nest new)', file: 'probe.ts', options: ['--module', 'commonjs', '--moduleResolution', 'node10'] },
    { resolution: 'node16, ESM', file: 'probe.mts', options: ['--module', 'node16', '--moduleResolution', 'node16'] },
    { resolution: 'nodenext, ESM', file: 'probe.mts', options: ['--module', 'nodenext', '--moduleResolution', 'nodenext'] },
    { resolution: 'nodenext, CommonJS', file: 'probe.cts', options: ['--module', 'nodenext', '--moduleResolution', 'nodenext'] },
    { resolution: 'bundler', file: 'probe.ts', options: ['--module', 'esnext', '--moduleResolution', 'bundler'] },
  ])('TypeScript resolves both entry points with their types under $resolution', async ({ file, options }) => {
    const probe = [
      "import { HeartbeatModule, PeerLostError, type PresenceEvent } from 'nest-heartbeat';",
      "import { HeartbeatHealthIndicator } from 'nest-heartbeat/terminus';",
      'const event: PresenceEvent | undefined = undefined;',
      'export const used = [HeartbeatModule.forRoot({ heartbeat: { intervalMs: 500 } }), PeerLostError, HeartbeatHealthIndicator, event];',
      '// @ts-expect-error a wrong option type must be an error: the types are real, not any',
      "HeartbeatModule.forRoot({ heartbeat: { intervalMs: 'fast' } });",
      '',
    ].join('\n');
    await writeFile(join(dir, file), probe);
    const args = [TSC, '--noEmit', '--strict', '--target', 'es2022', '--experimentalDecorators', '--skipLibCheck', '--types', 'node', ...options, file];
    await expect(exec(process.execPath, args, { cwd: dir })).resolves.toBeDefined();
  }, 60_000);
});
