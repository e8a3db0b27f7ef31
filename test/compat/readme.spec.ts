/**
 * The examples shown in the README and docs/ are the files in examples/ (which apps.spec.ts
 * compiles and runs), and their relative links lead somewhere.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EXAMPLES, ROOT } from './support/package-fixture.js';

/** Blocks written as `<!-- examples/x.ts -->` followed by a fenced code block. */
function fileBlocks(markdown: string): Array<{ path: string; body: string }> {
  return [...markdown.matchAll(/<!-- (examples\/[^ ]+) -->\n```\w*\n([\s\S]*?)```/g)].map((m) => ({ path: m[1], body: m[2] }));
}

test('every file block of the README and docs/*.md is the file in examples/, verbatim, and every example is shown', async () => {
  const pages = ['README.md', ...(await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const blocks: Array<{ path: string; body: string }> = [];
  for (const page of pages) blocks.push(...fileBlocks(await readFile(join(ROOT, page), 'utf8')));
  for (const { path, body } of blocks) {
    expect({ path, body }).toEqual({ path, body: await readFile(join(ROOT, path), 'utf8') });
  }
  const examples = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.ts') || f === 'tsconfig.json').map((f) => `examples/${f}`);
  expect(examples.length).toBeGreaterThanOrEqual(6);
  expect([...new Set(blocks.map((b) => b.path))].sort()).toEqual(examples.sort());
});

test('every relative link of README.md and docs/*.md points at a file of the repository', async () => {
  const pages = ['README.md', ...(await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const broken: string[] = [];
  for (const page of pages) {
    const text = await readFile(join(ROOT, page), 'utf8');
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue; // absolute URL
      if (!existsSync(join(ROOT, dirname(page), target))) broken.push(`${page} -> ${target}`);
    }
  }
  expect(broken).toEqual([]);
});

test('every example program enables shutdown hooks, so that a SIGTERM is a goodbye and not a false `lost`', async () => {
  const programs = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.ts'));
  const without: string[] = [];
  for (const file of programs) {
    const source = await readFile(join(EXAMPLES, file), 'utf8');
    const creates = (source.match(/NestFactory\.create\w*\(/g) ?? []).length;
    const enables = (source.match(/\.enableShutdownHooks\(\)/g) ?? []).length;
    if (creates === 0 || enables < creates) without.push(file);
  }
  expect(without).toEqual([]);
});
