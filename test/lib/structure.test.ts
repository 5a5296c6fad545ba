import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/stack.js';

/** Every `lib/` source file with the folders it imports from (relative imports only). */
async function libImports(): Promise<{ file: string; folder: string; imports: string[]; text: string }[]> {
  const lib = join(root, 'lib');
  const out = [];
  for (const folder of await readdir(lib)) {
    for (const name of await readdir(join(lib, folder))) {
      if (!name.endsWith('.ts')) continue;
      const text = await readFile(join(lib, folder, name), 'utf8');
      const imports = [...text.matchAll(/from '(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
      out.push({ file: `lib/${folder}/${name}`, folder, imports, text });
    }
  }
  return out;
}

describe('lib/ structure', () => {
  it('holds production code only: nothing imports dev/ or test/', async () => {
    const offenders = (await libImports()).filter((f) =>
      f.imports.some((i) => /^(\.\.\/){2,}(dev|test)\//.test(i)),
    );
    expect(offenders.map((f) => f.file)).toEqual([]);
  });

  it('has no folder cycles', async () => {
    const edges = new Map<string, Set<string>>();
    for (const f of await libImports()) {
      for (const i of f.imports) {
        const m = /^\.\.\/([^/.]+)\//.exec(i);
        if (m && m[1] !== f.folder) {
          if (!edges.has(f.folder)) edges.set(f.folder, new Set());
          edges.get(f.folder)!.add(m[1]!);
        }
      }
    }
    const cycles: string[] = [];
    const visit = (node: string, path: string[]) => {
      for (const next of edges.get(node) ?? []) {
        if (next === path[0]) cycles.push([...path, next].join(' -> '));
        else if (!path.includes(next) && next > path[0]!) visit(next, [...path, next]);
      }
    };
    for (const node of edges.keys()) visit(node, [node]);
    expect(cycles).toEqual([]);
  });

  it('reads zod through its public API only (no `_zod` internals)', async () => {
    const offenders = (await libImports()).filter((f) => f.text.includes('._zod'));
    expect(offenders.map((f) => f.file)).toEqual([]);
  });
});
