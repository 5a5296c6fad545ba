import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { registrations } from '../../dev/host/core.js';
import { discoverFunctionModules } from '../../dev/host/index.js';
import type * as Assets from '../../lib/dashboard/assets.js';
import { root } from '../helpers/stack.js';

const run = promisify(execFile);
let outDir: string | undefined;

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

describe('the deployable build', () => {
  it('compiles functions/ to ESM that registers, under plain Node, exactly what the local host runs', async () => {
    // Inside the project, so that the build resolves node_modules as it would when deployed.
    await mkdir(join(root, '.data'), { recursive: true });
    outDir = await mkdtemp(join(root, '.data', 'build-'));
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], {
      cwd: root,
    });
    const { stdout } = await run(process.execPath, [
      join(root, 'test', 'deploy', 'load-functions.mjs'),
      join(outDir, 'functions'),
    ]);
    const built = JSON.parse(stdout) as { name: string; trigger: string }[];

    for (const file of await discoverFunctionModules(root)) await import(file);
    const local = registrations()
      .map((r) => ({
        name: r.metadata.name,
        trigger: Object.values(r.metadata.bindings).find((b) => b.type.endsWith('Trigger'))!.type,
        retry: r.metadata.retryOptions ?? null,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));

    expect(built.map((f) => f.name)).toEqual([
      'aggregate',
      'alertRules',
      'alerts',
      'curate',
      'dashboard',
      'getConfig',
      'getPackage',
      'health',
      'ingestEvents',
      'land',
      'main',
      'metricDefinitions',
      'metrics',
      'notify',
      'openapi',
      'otlpLogs',
      'postPackage',
      'putConfig',
      'queryEvents',
      'replay',
      'segment',
      'status',
      'userLookup',
      'users',
    ]);
    expect(built).toEqual(local);
    // The built dashboard finds its page (web/, deployed with the app) and uPlot (node_modules).
    const { dashboardAsset } = (await import(join(outDir, 'lib', 'dashboard', 'assets.js'))) as typeof Assets;
    expect((await dashboardAsset('')).body).toContain('<title>Telemetry dashboard</title>');
    expect((await dashboardAsset('uPlot.iife.min.js')).status).toBe(200);
    expect(built.find((f) => f.name === 'land')).toMatchObject({
      trigger: 'eventHubTrigger',
      retry: { strategy: 'exponentialBackoff', maxRetryCount: -1 },
    });
  });
});
