import { gunzipSync } from 'node:zlib';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { blobLake, type Lake } from '../../../lib/lake/index.js';
import { listBlocks } from '../../../lib/landing/blockIndex.js';
import { type LandingDeps, landBatch } from '../../../lib/landing/land.js';
import { blockPath } from '../../../lib/landing/paths.js';
import { readLandingRecords } from '../../../lib/landing/watermarks.js';
import { until } from '../../helpers/until.js';
import { eventLine, packed, t0 } from './fixtures.js';

let azurite: Azurite;
let container: ContainerClient;
let blockIndex: TableClient;
let landing: TableClient;
let run = 0;

beforeAll(async () => {
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});
beforeEach(async () => {
  run++;
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    `lake${run}`,
  );
  await container.create();
  const opts = { allowInsecureConnection: true };
  blockIndex = TableClient.fromConnectionString(azurite.connectionString, `blockindex${run}`, opts);
  landing = TableClient.fromConnectionString(azurite.connectionString, `landing${run}`, opts);
  await blockIndex.createTable();
  await landing.createTable();
});

function deps(lake: Lake = blobLake(container)): LandingDeps {
  return { lake, blockIndex, landing, eventHubName: 'telemetry', gzipLevel: 6, maxBlockBytes: 1024 * 1024 };
}

async function readBlock(path: string): Promise<Record<string, unknown>[]> {
  const body = await container.getBlobClient(path).downloadToBuffer();
  return gunzipSync(body)
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
}

async function allLandedSequenceNumbers(): Promise<number[]> {
  const seqs: number[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: 'raw/' })) {
    for (const e of await readBlock(blob.name)) seqs.push(e.sequenceNumber as number);
  }
  return seqs.sort((a, b) => a - b);
}

const minute = 60_000;

describe('landBatch', () => {
  it('writes one block per tenant and arrival minute, stamped, indexed, and moves the watermark', async () => {
    const batch = {
      partitionId: '2',
      messages: [
        packed('acme', 10, t0 + 5_000, [eventLine('acme', 1), eventLine('acme', 2)]),
        packed('zeta', 11, t0 + 6_000, [eventLine('zeta', 1)]),
        packed('acme', 12, t0 + 7_000, [eventLine('acme', 3)]),
        packed('acme', 13, t0 + minute + 1, [eventLine('acme', 4)]),
      ],
    };
    const result = await landBatch(deps(), batch);
    expect(result.events).toBe(5);
    expect(result.skipped).toBe(0);
    expect(result.blocks.map((b) => [b.path, b.events, b.firstSequenceNumber, b.lastSequenceNumber])).toEqual(
      [
        ['raw/tenant=acme/date=2026-11-22/hour=10/minute=00/2-10-12.ndjson.gz', 3, 10, 12],
        ['raw/tenant=zeta/date=2026-11-22/hour=10/minute=00/2-11-11.ndjson.gz', 1, 11, 11],
        ['raw/tenant=acme/date=2026-11-22/hour=10/minute=01/2-13-13.ndjson.gz', 1, 13, 13],
      ],
    );
    const events = await readBlock(result.blocks[0]!.path);
    expect(events.map((e) => e.id)).toEqual(['e-acme-1', 'e-acme-2', 'e-acme-3']);
    expect(events[0]).toEqual({
      id: 'e-acme-1',
      name: 'feature.used',
      time: '2026-11-22T10:00:00.000Z',
      core: { deviceId: 'd1' },
      data: { n: 1 },
      tenant: 'acme',
      receivedAt: '2026-11-22T10:00:00.100Z',
      enqueuedAt: '2026-11-22T10:00:05.000Z',
      partition: '2',
      sequenceNumber: 10,
    });
    const blob = await container.getBlobClient(result.blocks[0]!.path).getProperties();
    expect(blob.contentEncoding).toBe('gzip');
    expect(blob.contentType).toBe('application/x-ndjson');

    const index = await listBlocks(blockIndex, '202611221000');
    expect(index.map((e) => [e.tenant, e.events, e.bytes > 0])).toEqual([
      ['acme', 3, true],
      ['zeta', 1, true],
    ]);
    expect(await listBlocks(blockIndex, '202611221000', 'zeta')).toHaveLength(1);
    expect((await listBlocks(blockIndex, '202611221001'))[0]!.path).toBe(result.blocks[2]!.path);
    const [record] = await readLandingRecords(landing, 'telemetry');
    expect(record).toMatchObject({
      partitionId: '2',
      sequenceNumber: 13,
      enqueuedTimeMs: t0 + minute + 1,
      pending: [],
    });
  });

  it('lands the same batch delivered twice once, and skips the landed part of an overlapping batch', async () => {
    const msgs = Array.from({ length: 15 }, (_, i) =>
      packed('acme', i, t0 + i * 1000, [eventLine('acme', i)]),
    );
    await landBatch(deps(), { partitionId: '0', messages: msgs.slice(0, 10) });
    const again = await landBatch(deps(), { partitionId: '0', messages: msgs.slice(0, 10) });
    expect(again).toEqual({ skipped: 10, events: 0, blocks: [], deadLetters: [] });
    const overlap = await landBatch(deps(), { partitionId: '0', messages: msgs.slice(5, 15) });
    expect(overlap.skipped).toBe(5);
    expect(overlap.blocks.map((b) => b.path)).toEqual([blockPath('acme', '202611221000', '0', 10, 14)]);
    expect(await allLandedSequenceNumbers()).toEqual([...Array(15).keys()]);
  });

  it('after a storage failure mid-batch, a retry with other batch boundaries lands every event exactly once', async () => {
    const msgs = Array.from({ length: 30 }, (_, i) =>
      packed(i % 2 ? 'acme' : 'zeta', i, t0 + i * 3000, [eventLine('t', i), eventLine('t', i + 100)]),
    );
    const real = blobLake(container);
    let puts = 0;
    const flaky: Lake = {
      ...real,
      put: async (path, body, options) => {
        if (++puts === 2) throw new Error('injected: storage unavailable');
        return real.put(path, body, options);
      },
    };
    await expect(landBatch(deps(flaky), { partitionId: '1', messages: msgs.slice(0, 20) })).rejects.toThrow(
      'injected',
    );
    const [stuck] = await readLandingRecords(landing, 'telemetry');
    expect(stuck!.sequenceNumber).toBe(-1);
    expect(stuck!.pending.length).toBeGreaterThan(1);
    // The first attempt left a block behind. The redelivery is larger (a different boundary).
    const retry = await landBatch(deps(), { partitionId: '1', messages: msgs.slice(0, 30) });
    expect(retry.events).toBe(60);
    const seqs = await allLandedSequenceNumbers();
    expect(seqs).toEqual([...Array(30).keys()].flatMap((i) => [i, i]));
    const states = ['202611221000', '202611221001'];
    const indexed = (await Promise.all(states.map((s) => listBlocks(blockIndex, s)))).flat();
    expect(indexed.reduce((n, e) => n + e.events, 0)).toBe(60);
    const [record] = await readLandingRecords(landing, 'telemetry');
    expect(record).toMatchObject({ sequenceNumber: 29, pending: [] });
  });

  it('dead-letters an undecodable body with its reason and lands its neighbours', async () => {
    const bad = {
      body: Buffer.from('not gzip'),
      sequenceNumber: 2,
      enqueuedTimeMs: t0,
      properties: { contentEncoding: 'gzip', contentType: 'application/x-ndjson', tenant: 'acme' },
    };
    const result = await landBatch(deps(), {
      partitionId: '3',
      messages: [
        packed('acme', 1, t0, [eventLine('acme', 1)]),
        bad,
        packed('acme', 3, t0, [eventLine('acme', 3)]),
      ],
    });
    expect(result.events).toBe(2);
    expect(result.deadLetters).toEqual(['deadletter/eventhub/date=2026-11-22/hour=10/minute=00/3-2.json']);
    const letter = JSON.parse(
      (await container.getBlobClient(result.deadLetters[0]!).downloadToBuffer()).toString(),
    );
    expect(letter).toMatchObject({
      code: 'BODY_UNDECODABLE',
      partition: '3',
      sequenceNumber: 2,
      bodyBase64: Buffer.from('not gzip').toString('base64'),
    });
    expect(letter.reason).toContain('cannot inflate');
    const [record] = await readLandingRecords(landing, 'telemetry');
    expect(record!.sequenceNumber).toBe(3);
  });

  it('accepts a plain single-event JSON body from another producer', async () => {
    const body = Buffer.from(
      JSON.stringify({
        id: 'x1',
        name: 'door.open',
        time: '2026-11-22T09:59:00Z',
        core: { deviceId: 'gate' },
      }),
    );
    const result = await landBatch(deps(), {
      partitionId: '0',
      messages: [{ body, sequenceNumber: 0, enqueuedTimeMs: t0, properties: { tenant: 'acme' } }],
    });
    expect(await readBlock(result.blocks[0]!.path)).toEqual([
      {
        id: 'x1',
        name: 'door.open',
        time: '2026-11-22T09:59:00Z',
        core: { deviceId: 'gate' },
        tenant: 'acme',
        receivedAt: '2026-11-22T10:00:00.000Z',
        enqueuedAt: '2026-11-22T10:00:00.000Z',
        partition: '0',
        sequenceNumber: 0,
      },
    ]);
  });

  it('splits a tenant-minute into several blocks past the maximum block size', async () => {
    const big = 'x'.repeat(300 * 1024);
    const msgs = [0, 1, 2, 3].map((i) => packed('acme', i, t0, [JSON.stringify({ id: `b${i}`, pad: big })]));
    const result = await landBatch(
      { ...deps(), maxBlockBytes: 512 * 1024 },
      { partitionId: '0', messages: msgs },
    );
    expect(result.blocks.map((b) => [b.firstSequenceNumber, b.lastSequenceNumber, b.events])).toEqual([
      [0, 1, 2],
      [2, 3, 2],
    ]);
  });

  it('refuses to move a watermark that another instance moved meanwhile (ETag), so the batch is retried', async () => {
    await landBatch(deps(), { partitionId: '0', messages: [packed('acme', 0, t0, [eventLine('acme', 0)])] });
    const real = blobLake(container);
    const racing: Lake = {
      ...real,
      put: async (path, body, options) => {
        // Another instance that took over the partition records its progress while we write.
        const { etag } = await landing.getEntity('telemetry', '0');
        const moved = { partitionKey: 'telemetry', rowKey: '0', sequenceNumber: 5, enqueuedTimeMs: t0 };
        await landing.updateEntity(moved, 'Replace', { etag });
        return real.put(path, body, options);
      },
    };
    const attempt = landBatch(deps(racing), {
      partitionId: '0',
      messages: [packed('acme', 1, t0, [eventLine('acme', 1)])],
    });
    await expect(attempt).rejects.toMatchObject({ code: 'LANDING_CONFLICT' });
    const [record] = await readLandingRecords(landing, 'telemetry');
    expect(record!.sequenceNumber).toBe(5);
  });

  it('two instances landing one partition during a handover: the later claim wins, every event once', async () => {
    const msgs = Array.from({ length: 6 }, (_, i) => packed('acme', i, t0 + i, [eventLine('acme', i)]));
    const real = blobLake(container);
    const slow: Lake = {
      ...real,
      put: async (path, body, options) => {
        await new Promise((r) => setTimeout(r, 300));
        return real.put(path, body, options);
      },
    };
    const a = landBatch(deps(slow), { partitionId: '0', messages: msgs });
    // B starts once A has claimed the partition and is still writing.
    await until('A to claim', async () => {
      const [record] = await readLandingRecords(landing, 'telemetry');
      return record?.pending.length ? true : undefined;
    });
    const b = await landBatch(deps(), { partitionId: '0', messages: msgs });
    expect(b.events).toBe(6);
    await expect(a).rejects.toMatchObject({ code: 'LANDING_CONFLICT' });
    expect(await allLandedSequenceNumbers()).toEqual([0, 1, 2, 3, 4, 5]);
    const [record] = await readLandingRecords(landing, 'telemetry');
    expect(record).toMatchObject({ sequenceNumber: 5, pending: [] });
  });
});
