import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gzip } from '../../../lib/client/batch.js';
import { createTelemetryClient, type TelemetryError } from '../../../lib/client/index.js';
import { FileSpool } from '../../../lib/client/spool.js';
import { root } from '../../helpers/stack.js';
import { until } from '../../helpers/until.js';

let dir: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spool-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const batch = async (ids: string[]) => ({
  body: await gzip(ids.map((id) => `${JSON.stringify({ id })}\n`).join('')),
  count: ids.length,
});
const batchFiles = async () => (await readdir(dir)).filter((f) => f.endsWith('.ndjson.gz')).sort();
const idsIn = async (file: string) =>
  gunzipSync(await readFile(join(dir, file)))
    .toString()
    .trimEnd()
    .split('\n')
    .map((l) => (JSON.parse(l) as { id: string }).id);

describe('file spool', () => {
  it('keeps one file per batch, oldest first, and hands them out oldest first', async () => {
    const spool = new FileSpool({ dir });
    for (let i = 0; i < 3; i++) await spool.put(await batch([`b${i}-1`, `b${i}-2`]));
    const files = await batchFiles();
    expect(files).toHaveLength(3);
    for (const f of files) expect(f).toMatch(/^\d{13}-\d{6}-[0-9a-f]{8}-n2\.ndjson\.gz$/);
    expect(await Promise.all(files.map(idsIn))).toEqual([
      ['b0-1', 'b0-2'],
      ['b1-1', 'b1-2'],
      ['b2-1', 'b2-2'],
    ]);
    const first = await spool.claim();
    expect(first!.count).toBe(2);
    expect(gunzipSync(first!.body).toString()).toBe('{"id":"b0-1"}\n{"id":"b0-2"}\n');
    // Claimed: not handed out twice, still counted; released, it is first again.
    const second = await spool.claim();
    expect(gunzipSync(second!.body).toString()).toContain('b1-1');
    expect(await spool.size()).toBe(3);
    await spool.release(second!);
    await spool.remove(first!);
    expect(await Promise.all((await batchFiles()).map(idsIn))).toEqual([
      ['b1-1', 'b1-2'],
      ['b2-1', 'b2-2'],
    ]);
    await spool.close();
  });

  it('drops the oldest files beyond the cap and says how many events went', async () => {
    const spool = new FileSpool({ dir, maxFiles: 3 });
    const dropped: number[] = [];
    for (let i = 0; i < 5; i++) {
      const ids = Array.from({ length: i + 1 }, (_, k) => `b${i}-${k}`);
      const result = await spool.put(await batch(ids));
      dropped.push(...result.dropped.map((d) => d.count));
    }
    expect(dropped).toEqual([1, 2]);
    expect((await Promise.all((await batchFiles()).map(idsIn))).map((ids) => ids[0])).toEqual([
      'b2-0',
      'b3-0',
      'b4-0',
    ]);
  });

  it('the client spools what it cannot send, within the cap, and reports what the cap dropped', async () => {
    const errors: TelemetryError[] = [];
    const client = createTelemetryClient({
      app: 'a',
      appVersion: '1',
      deviceId: 'd',
      endpoint: 'http://127.0.0.1:9', // the discard port: nothing listens
      apiKey: 'k',
      spool: { dir, maxFiles: 3 },
      onError: (e) => errors.push(e),
    });
    const tracked: string[][] = [];
    for (let b = 0; b < 5; b++) {
      tracked.push([client.track('offline', { b })!, client.track('offline', { b })!]);
      await client.flush();
    }
    expect(client.stats().default).toMatchObject({ queued: 0, stored: 3, delivered: 0, discarded: 4 });
    expect(errors.map((e) => [e.code, e.dropped])).toEqual([
      ['STORE_FULL', 2],
      ['STORE_FULL', 2],
    ]);
    expect(await Promise.all((await batchFiles()).map(idsIn))).toEqual(tracked.slice(2));
    await client.close();
    expect(await batchFiles()).toHaveLength(3);
  });

  it('lets one process upload at a time; a dead holder loses the lock and its claim is sent again', async () => {
    await new FileSpool({ dir }).put(await batch(['only']));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/lib/client/fixtures/spool-holder.ts', dir],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(child);
    const first = await new Promise<string>((resolve) =>
      createInterface({ input: child.stdout! }).once('line', resolve),
    );
    const claimed = (JSON.parse(first) as { claimed: string }).claimed;
    expect(claimed).toMatch(/-n1\.ndjson\.gz\.sending-\d+$/);

    const spool = new FileSpool({ dir, lockStaleMs: 2000, claimTimeoutMs: 1000 });
    expect(await spool.holdsLock()).toBe(false);
    expect(await spool.claim()).toBeUndefined();
    child.kill('SIGKILL');
    await until('the dead holder’s lock to go stale', async () =>
      (await spool.holdsLock()) ? true : undefined,
    );
    const again = await until('the orphaned claim to come back', () => spool.claim());
    expect(gunzipSync(again.body).toString()).toBe('{"id":"only"}\n');
    await spool.remove(again);
    expect(await batchFiles()).toEqual([]);
    await spool.close();
  });

  it('keeps the last server config for the next start', async () => {
    const spool = new FileSpool({ dir });
    expect(await spool.loadConfig()).toBeUndefined();
    const config = {
      version: 3,
      blocklist: ['debug.*'],
      sampling: {},
      uploadIntervalSeconds: 30,
      optOut: false,
    };
    await spool.saveConfig({ config, etag: '"t-v3"' });
    expect(await new FileSpool({ dir }).loadConfig()).toEqual({ config, etag: '"t-v3"' });
    await writeFile(join(dir, 'config.json'), '{not json');
    expect(await spool.loadConfig()).toBeUndefined();
  });
});
