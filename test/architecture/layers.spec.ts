import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The floors of docs/ARCHITECTURE.md ("Floors") as a check on every import in src/: a file may
 * import its own folder or a folder on a lower floor, never one on its own floor or above. So no
 * folder can be tied to another in a loop, and a new arrow that runs back up fails here.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');

/** `| 3 | `protocol/`, `detector/` | …` rows of the Floors table → folder → floor. */
export function readFloors(markdown: string): Map<string, number> {
  const section = markdown.split(/^## /m).find((s) => s.startsWith('Floors'));
  if (!section) throw new Error('docs/ARCHITECTURE.md has no "## Floors" section');
  const floors = new Map<string, number>();
  for (const line of section.split('\n')) {
    const row = /^\|\s*(\d+)\s*\|([^|]+)\|/.exec(line);
    if (!row) continue;
    for (const m of row[2].matchAll(/`([^`]+)`/g)) floors.set(m[1].replace(/\/$/, ''), Number(row[1]));
  }
  return floors;
}

/** Every relative import of a TypeScript source, type-only ones included (they tie folders too). */
export function importsOf(code: string): string[] {
  const specs: string[] = [];
  for (const m of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|^import\s+['"](\.[^'"]+)['"]/gm)) {
    specs.push(m[1] ?? m[2] ?? m[3]);
  }
  return specs;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** The folder of a file under src/ ('.' for the root files). */
const folderOf = (file: string) => {
  const rel = relative(src, file).split(sep);
  return rel.length === 1 ? '.' : rel[0];
};

describe('layers of src/ (docs/ARCHITECTURE.md, "Floors")', () => {
  const floors = readFloors(readFileSync(join(root, 'docs/ARCHITECTURE.md'), 'utf8'));
  const files = sources(src);

  it('gives every folder of src/ a floor', () => {
    const folders = [...new Set(files.map(folderOf))].sort();
    expect(folders.filter((f) => !floors.has(f))).toEqual([]);
  });

  it('has no import that runs back up or sideways', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = folderOf(file);
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        const to = folderOf(resolve(dirname(file), spec));
        if (to === from) continue;
        if (!(floors.get(to)! < floors.get(from)!)) {
          violations.push(`${relative(root, file)} (floor ${floors.get(from)}) imports ${spec} (${to}/, floor ${floors.get(to)})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it('catches an arrow back up (the check itself)', () => {
    expect(importsOf("import type { X } from '../link/peer-link.js';\nexport { Y } from './y.js';\nconst m = await import('../z.js');"))
      .toEqual(['../link/peer-link.js', './y.js', '../z.js']);
    const table = readFloors('## Floors\n| floor | folders |\n|---|---|\n| 1 | `a/` |\n| 2 | `b/`, `c/` |\n');
    expect([...table]).toEqual([['a', 1], ['b', 2], ['c', 2]]);
  });
});
