import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../helpers/stack.js';

describe('README', () => {
  it('links only to files inside the repository, and they exist', async () => {
    const text = await readFile(join(root, 'README.md'), 'utf8');
    const links = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1]!)
      .filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(0);
    const broken = links.filter((l) => {
      const target = resolve(root, l);
      return relative(root, target).startsWith('..') || !existsSync(target);
    });
    expect(broken).toEqual([]);
  });
});
