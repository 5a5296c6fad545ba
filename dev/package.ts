import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * `npm run package` (azd's prepackage hook runs it after `npm run build`): assembles `.deploy/`, exactly what runs in
 * Azure, which azure.yaml (`dist: .deploy`) deploys: host.json, the compiled functions/ and lib/
 * (dist/), web/, package.json and a lock cut down to the production dependencies, and those
 * dependencies installed from the lock for Flex Consumption's platform (Linux x64, glibc) —
 * DuckDB's native binding for that platform whichever machine packages it. Dev dependencies and
 * the optional Core Tools (a local dev tool) stay out.
 */
const run = promisify(execFile);
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type LockEntry = {
  dev?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
type Lock = { packages: Record<string, LockEntry & Record<string, unknown>> } & Record<string, unknown>;
type PackageJson = Record<string, unknown> & { dependencies: Record<string, string> };

/** Where npm finds `name` from the package at `from` (its own node_modules, then each parent's). */
function resolveIn(packages: Lock['packages'], from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** The lock with only what the production dependencies reach (optional platform packages included). */
export function productionLock(lock: Lock, dependencies: Record<string, string>): Lock {
  const { packages } = lock;
  const { devDependencies: _dev, optionalDependencies: _optional, ...rest } = packages['']!;
  const rootEntry = { ...rest, dependencies };
  const kept = new Map<string, LockEntry>([['', rootEntry]]);
  const queue = [''];
  while (queue.length) {
    const at = queue.pop()!;
    const entry = kept.get(at)!;
    const names = Object.keys({
      ...entry.dependencies,
      ...entry.optionalDependencies,
      ...entry.peerDependencies,
    });
    for (const name of names) {
      const found = resolveIn(packages, at, name);
      if (!found || kept.has(found)) continue;
      kept.set(found, packages[found]!);
      queue.push(found);
    }
  }
  const ordered = Object.fromEntries(
    Object.keys(packages).flatMap((k) => (kept.has(k) ? [[k, kept.get(k)!]] : [])),
  );
  return { ...lock, packages: ordered };
}

export async function packageApp(
  out = join(root, '.deploy'),
  options: { offline?: boolean /** The compiled app (tsc's outDir); default dist/. */; dist?: string } = {},
): Promise<void> {
  const dist = options.dist ?? join(root, 'dist');
  const built = join(dist, 'functions');
  if (!(await stat(built).catch(() => undefined))) {
    throw new Error(`${built} is missing: run \`npm run build\` first (azd runs it before this)`);
  }
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await cp(join(dist, 'functions'), join(out, 'dist', 'functions'), { recursive: true });
  await cp(join(dist, 'lib'), join(out, 'dist', 'lib'), { recursive: true });
  await cp(join(root, 'web'), join(out, 'web'), { recursive: true });
  await cp(join(root, 'host.json'), join(out, 'host.json'));
  await cp(join(root, '.funcignore'), join(out, '.funcignore'));

  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as PackageJson;
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as Lock;
  const { devDependencies: _dev, optionalDependencies: _optional, scripts: _scripts, ...runtime } = pkg;
  await writeFile(join(out, 'package.json'), `${JSON.stringify(runtime, null, 2)}\n`);
  await writeFile(
    join(out, 'package-lock.json'),
    `${JSON.stringify(productionLock(lock, pkg.dependencies), null, 2)}\n`,
  );
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  await run(
    npm,
    [
      'ci',
      '--omit=dev',
      '--os=linux',
      '--cpu=x64',
      '--libc=glibc',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      ...(options.offline ? ['--offline'] : []),
    ],
    { cwd: out, env: { ...process.env, NODE_ENV: 'production' }, shell: process.platform === 'win32' },
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await packageApp();
  console.log(`packaged ${join(root, '.deploy')} for Linux x64`);
}
