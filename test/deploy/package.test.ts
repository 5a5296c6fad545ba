import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { packageApp, productionLock } from '../../dev/package.js';
import { root } from '../helpers/stack.js';

const run = promisify(execFile);
let workDir: string | undefined;

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

describe('npm run package (what azd deploys)', () => {
  it('assembles the compiled app, web/, host.json and the production dependencies for Linux x64, nothing else', async () => {
    await mkdir(join(root, '.data'), { recursive: true });
    workDir = await mkdtemp(join(root, '.data', 'package-'));
    const dist = join(workDir, 'dist');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', dist], { cwd: root });
    const outDir = join(workDir, '.deploy');
    // From the npm cache `npm ci` filled: no registry needed.
    await packageApp(outDir, { offline: true, dist });

    expect((await readdir(outDir)).sort()).toEqual([
      '.funcignore',
      'dist',
      'host.json',
      'node_modules',
      'package-lock.json',
      'package.json',
      'web',
    ]);
    expect((await readdir(join(outDir, 'dist'))).sort()).toEqual(['functions', 'lib']);
    const pkg = JSON.parse(await readFile(join(outDir, 'package.json'), 'utf8'));
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.optionalDependencies).toBeUndefined();
    expect(pkg.scripts).toBeUndefined();
    expect(pkg.main).toBe('dist/functions/*.js');

    const modules = join(outDir, 'node_modules');
    expect((await readdir(join(modules, '@duckdb'))).sort()).toEqual([
      'node-api',
      'node-bindings',
      'node-bindings-linux-x64',
    ]);
    for (const tool of ['typescript', 'vitest', 'azurite', 'tsx', 'azure-functions-core-tools', '@biomejs']) {
      expect({ tool, present: existsSync(join(modules, tool)) }).toEqual({ tool, present: false });
    }

    // The packaged functions register under plain Node with only the packaged node_modules.
    const { stdout } = await run(process.execPath, [
      join(root, 'test', 'deploy', 'load-functions.mjs'),
      join(outDir, 'dist', 'functions'),
    ]);
    const names = (JSON.parse(stdout) as { name: string }[]).map((f) => f.name);
    expect(names).toContain('land');
    expect(names).toContain('ingestEvents');
    expect(names.length).toBe(
      (await readdir(join(root, 'functions'))).filter((f) => f !== 'setup.ts').length,
    );
  });

  it('cuts the lock to what the production dependencies reach, nested copies included', () => {
    const lock = {
      lockfileVersion: 3,
      packages: {
        '': { dependencies: { a: '1' }, devDependencies: { d: '1' }, optionalDependencies: { tool: '1' } },
        'node_modules/a': { dependencies: { b: '1' }, optionalDependencies: { 'a-linux-x64': '1' } },
        'node_modules/a-linux-x64': { optional: true },
        'node_modules/a/node_modules/b': { dependencies: { c: '1' } },
        'node_modules/b': { dev: true },
        'node_modules/c': {},
        'node_modules/d': { dev: true },
        'node_modules/tool': { optional: true, dependencies: { e: '1' } },
        'node_modules/e': { optional: true },
      },
    };
    expect(Object.keys(productionLock(lock, { a: '1' }).packages)).toEqual([
      '',
      'node_modules/a',
      'node_modules/a-linux-x64',
      'node_modules/a/node_modules/b',
      'node_modules/c',
    ]);
    expect(productionLock(lock, { a: '1' }).packages['']).toEqual({ dependencies: { a: '1' } });
  });
});
