import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, describe, expect, it } from 'vitest';
import { type Child, endChild, startChild } from '../fixtures/child.js';
import { mulberry32 } from '../fixtures/random.js';

const dirs: string[] = [];
const children: Child[] = [];
afterAll(async () => {
  for (const c of children) await endChild(c);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function startAzuriteChild(
  location: string,
  mode: 'durable' | '5s',
): Promise<{ child: Child; cs: string }> {
  const child = startChild(
    process.execPath,
    ['--import', 'tsx', 'test/dev/emulators/fixtures/azurite.ts', location, mode],
    { label: 'azurite' },
  );
  children.push(child);
  const [, cs] = await child.waitFor(/^connection (\S+)$/);
  return { child, cs: cs! };
}

/**
 * Writers put blobs and table entities until Azurite is killed; then, started again on the same
 * files, it must still have every write it acknowledged.
 */
async function killDuringWrites(mode: 'durable' | '5s', kills: number, seed: number) {
  const location = mkdtempSync(join(tmpdir(), 'azurite-kill-'));
  dirs.push(location);
  const random = mulberry32(seed);
  const blobs = new Map<string, string>();
  const entities = new Map<string, number>();
  for (let round = 0; ; round++) {
    const { child, cs } = await startAzuriteChild(location, mode);
    const container = BlobServiceClient.fromConnectionString(cs, {
      retryOptions: { maxTries: 1 },
    }).getContainerClient('kept');
    const table = TableClient.fromConnectionString(cs, 'kept', {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
    await container.createIfNotExists();
    await table.createTable();

    const missing: string[] = [];
    for (const [name, text] of blobs) {
      const got = await container
        .getBlockBlobClient(name)
        .downloadToBuffer()
        .then(
          (b) => b.toString(),
          () => undefined,
        );
      if (got !== text) missing.push(`blob ${name}`);
    }
    for (const [row, n] of entities) {
      const got = await table.getEntity<{ n: number }>('p', row).then(
        (e) => e.n,
        () => undefined,
      );
      if (got !== n) missing.push(`entity ${row}`);
    }
    if (missing.length > 0 || round === kills) {
      await endChild(child);
      return { missing, acknowledged: blobs.size + entities.size };
    }

    let killed = false;
    let i = 0;
    const writer = async () => {
      while (!killed) {
        const k = i++;
        try {
          if (k % 2 === 0) {
            const text = `blob ${k} `.repeat(50);
            await container.getBlockBlobClient(`b${k}`).upload(text, text.length);
            if (!killed) blobs.set(`b${k}`, text);
          } else {
            await table.upsertEntity({ partitionKey: 'p', rowKey: `e${k}`, n: k });
            if (!killed) entities.set(`e${k}`, k);
          }
        } catch {
          return;
        }
      }
    };
    const writers = Array.from({ length: 4 }, writer);
    await new Promise((r) => setTimeout(r, 500 + random() * 700));
    killed = true;
    child.signalGroup('SIGKILL');
    await child.exited;
    await Promise.all(writers);
  }
}

describe('Azurite with a location', () => {
  it('keeps every write it acknowledged through SIGKILLs (answers wait for the save)', async () => {
    const { missing, acknowledged } = await killDuringWrites('durable', 3, 1);
    expect(missing).toEqual([]);
    expect(acknowledged).toBeGreaterThan(20);
  });

  it("loses acknowledged writes through a SIGKILL when left to lokijs's 5 s saves (why the above matters)", async () => {
    const { missing } = await killDuringWrites('5s', 1, 1);
    expect(missing.length).toBeGreaterThan(0);
  });
});
