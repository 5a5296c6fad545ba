import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { startAzurite } from '../../dev/emulators/azurite.js';
import { root } from '../helpers/stack.js';
import { until } from '../helpers/until.js';
import { type Child, endChild, startChild } from './fixtures/child.js';

const keys = {
  DEV_FUNCTION_KEY: 'start-test-function-key-0123456789',
  TELEMETRY_DEV_KEY: 'start-test-dev-key-0123456789',
  TELEMETRY_ADMIN_KEY: 'start-test-admin-key-0123456789',
};
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  scripts: { start: string };
};
const children: Child[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const c of children) await endChild(c);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * `npm start`'s script (package.json `scripts.start`, run as npm runs it, by `sh -c` with
 * node_modules/.bin on the PATH, but without npm itself, which ends by re-raising the signal and
 * so hides the exit code) on free ports with its data in `dataDir`, once it says it is ready.
 */
async function npmStart(dataDir: string): Promise<{ child: Child; url: string }> {
  const child = startChild(
    'sh',
    ['-c', `exec ${packageJson.scripts.start} --free-ports --data-dir "$DATA_DIR"`],
    {
      env: { ...keys, DATA_DIR: dataDir, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
      label: 'npm start',
    },
  );
  children.push(child);
  const [, url] = await child.waitFor(/^Functions\s+(http:\S+)/, 60_000);
  await child.waitFor(/^Ctrl\+C stops everything\.$/);
  return { child, url: url! };
}

/** Sends `count` events through ingest (several devices, so several partitions); returns their ids. */
async function send(url: string, count: number): Promise<string[]> {
  const events = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    name: 'feature.used',
    time: new Date().toISOString(),
    core: { deviceId: `device-${i % 7}` },
  }));
  const response = await fetch(`${url}/api/v1/events`, {
    method: 'POST',
    headers: {
      'x-functions-key': keys.DEV_FUNCTION_KEY,
      authorization: `Bearer ${keys.TELEMETRY_DEV_KEY}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(events),
  });
  expect(response.status).toBe(202);
  expect(((await response.json()) as { accepted: number }).accepted).toBe(count);
  return events.map((e) => e.id);
}

/** Events the host's log reports as landed ("Partition 2: 5 events in 1 blocks, …"). */
function reportedLanded(child: Child): number {
  let n = 0;
  for (const line of child.lines) {
    const m = line.match(/Partition \d+: (\d+) events in \d+ blocks/);
    if (m) n += Number(m[1]);
  }
  return n;
}

/** Every event id in the raw zone, read from the stopped stack's Azurite files. */
async function rawIds(dataDir: string): Promise<string[]> {
  const azurite = await startAzurite({ location: join(dataDir, 'azurite') });
  try {
    const lake = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
    const ids: string[] = [];
    if (!(await lake.exists())) return ids;
    for await (const blob of lake.listBlobsFlat({ prefix: 'raw/' })) {
      const body = gunzipSync(await lake.getBlobClient(blob.name).downloadToBuffer());
      for (const line of body.toString('utf8').split('\n')) if (line) ids.push(JSON.parse(line).id);
    }
    return ids.sort();
  } finally {
    await azurite.stop();
  }
}

/**
 * A terminal's Ctrl+C: SIGINT to the whole process group. Under `npm start` the stack then gets
 * it again within milliseconds, as npm passes it on; whether it does depends on a race,
 * so the second delivery is made certain here.
 */
async function ctrlC(child: Child): Promise<void> {
  child.signalGroup('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  child.signalGroup('SIGINT');
}

describe('npm start', () => {
  it('stops on Ctrl+C with exit code 0, keeps what it reported landed, and lands again at once after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'npm-start-'));
    dirs.push(dataDir);

    const first = await npmStart(dataDir);
    const sent = [...(await send(first.url, 30)), ...(await send(first.url, 30))];
    await until('60 events reported landed', () => (reportedLanded(first.child) === 60 ? true : undefined));
    await ctrlC(first.child);
    expect(await first.child.exited).toEqual({ code: 0, signal: null });
    expect(first.child.lines).toContain('Stopped.');

    expect(await rawIds(dataDir)).toEqual(sent.sort());

    // Landing picks up at once: well within the minute a partition claim takes to expire.
    const second = await npmStart(dataDir);
    await send(second.url, 20);
    await until(
      '20 more events reported landed',
      () => (reportedLanded(second.child) === 20 ? true : undefined),
      20_000,
    );
    await ctrlC(second.child);
    expect(await second.child.exited).toEqual({ code: 0, signal: null });
    expect(await rawIds(dataDir)).toHaveLength(80);
  }, 180_000);
});
