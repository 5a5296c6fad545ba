import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/stack.js';

const lib = join(root, 'lib');

/**
 * Every `lib/` source file, at any depth, with its top-level folder and what it imports
 * (relative imports, as paths from the project root).
 */
async function libImports(): Promise<{ file: string; folder: string; imports: string[]; text: string }[]> {
  const out = [];
  for (const entry of await readdir(lib, { recursive: true })) {
    if (!entry.endsWith('.ts')) continue;
    const path = join(lib, entry);
    const text = await readFile(path, 'utf8');
    const imports = [...text.matchAll(/(?:from|import) '(\.{1,2}\/[^']+)'/g)].map((m) =>
      relative(root, resolve(dirname(path), m[1]!)),
    );
    out.push({ file: relative(root, path), folder: entry.split('/')[0]!, imports, text });
  }
  return out;
}

describe('lib/ structure', () => {
  it('holds production code only: nothing imports dev/ or test/', async () => {
    const offenders = (await libImports()).filter((f) => f.imports.some((i) => /^(dev|test)\//.test(i)));
    expect(offenders.map((f) => f.file)).toEqual([]);
  });

  it('has no folder cycles', async () => {
    const edges = new Map<string, Set<string>>();
    for (const f of await libImports()) {
      for (const i of f.imports) {
        const m = /^lib\/([^/.]+)\//.exec(i);
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
