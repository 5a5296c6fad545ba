import { gunzipSync } from 'node:zlib';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { blobLake, type Lake } from '../../../lib/lake/index.js';
import { listBlocks } from '../../../lib/landing/blockIndex.js';
import { type LandingDeps, landBatch } from '../../../lib/landing/land.js';
import { blockPath, idsPath } from '../../../lib/landing/paths.js';
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

async function paths(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix })) out.push(blob.name);
  return out.sort();
}

async function indexedEvents(): Promise<number> {
  let n = 0;
  for await (const e of blockIndex.listEntities<{ events: number }>()) n += e.events;
  return n;
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

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
      core: { deviceId: 'd1', userKind: 'external' },
      data: { n: 1 },
      tenant: 'acme',
      receivedAt: '2026-11-22T10:00:00.100Z',
      enqueuedAt: '2026-11-22T10:00:05.000Z',
      partition: '2',
      sequenceNumber: 10,
    });
    // Each block has its id sidecar: one id per line, in block order.
    const sidecar = await container.getBlobClient(idsPath(result.blocks[0]!.path)).downloadToBuffer();
    expect(sidecar.toString()).toBe('e-acme-1\ne-acme-2\ne-acme-3\n');
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
    expect(record).toMatchObject({ partitionId: '2', sequenceNumber: 13, enqueuedTimeMs: t0 + minute + 1 });
    expect(record!.claim).toBeUndefined();
    // Nothing is left in staging.
    expect(await paths('staging/')).toEqual([]);
  });

  it('lands the same batch delivered twice once, and skips the landed part of an overlapping batch', async () => {
    const msgs = Array.from({ length: 15 }, (_, i) =>
      packed('acme', i, t0 + i * 1000, [eventLine('acme', i)]),
    );
    await landBatch(deps(), { partitionId: '0', messages: msgs.slice(0, 10) });
    const again = await landBatch(deps(), { partitionId: '0', messages: msgs.slice(0, 10) });
    expect(again).toEqual({
      skipped: 10,
      events: 0,
      blocks: [],
      deadLettered: 0,
      deadLetter: null,
      recovered: 0,
      gaps: [],
    });
    const overlap = await landBatch(deps(), { partitionId: '0', messages: msgs.slice(5, 15) });
    expect(overlap.skipped).toBe(5);
    expect(overlap.blocks.map((b) => b.path)).toEqual([blockPath('acme', '202611221000', '0', 10, 14)]);
    expect(await allLandedSequenceNumbers()).toEqual([...Array(15).keys()]);
  });

  it('after a storage failure while staging, a retry with other batch boundaries lands every event exactly once', async () => {
    const msgs = Array.from({ length: 30 }, (_, i) =>
      packed(i % 2 ? 'acme' : 'zeta', i, t0 + i * 3000, [
        eventLine(i % 2 ? 'acme' : 'zeta', i),
        eventLine(i % 2 ? 'acme' : 'zeta', i + 100),
      ]),
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
    // Nothing was claimed and nothing reached the raw zone.
    expect(await readLandingRecords(landing, 'telemetry')).toEqual([]);
    expect(await paths('raw/')).toEqual([]);
    const retry = await landBatch(deps(), { partitionId: '1', messages: msgs.slice(0, 30) });
    expect(retry.events).toBe(60);
    expect(await allLandedSequenceNumbers()).toEqual([...Array(30).keys()].flatMap((i) => [i, i]));
    expect(await indexedEvents()).toBe(60);
    const [record] = await readLandingRecords(landing, 'telemetry');
    expect(record).toMatchObject({ sequenceNumber: 29 });
    expect(record!.claim).toBeUndefined();
  });

  it('after a failure while publishing, the next attempt finishes the claim from staging, then lands the rest', async () => {
    const msgs = Array.from({ length: 30 }, (_, i) =>
      packed(i % 2 ? 'acme' : 'zeta', i, t0 + i * 3000, [eventLine(i % 2 ? 'acme' : 'zeta', i)]),
    );
    const real = blobLake(container);
    const failPublish: Lake = {
      ...real,
      copy: async (from, to) => {
        if (to.startsWith('raw/') && to.includes('zeta')) throw new Error('injected: publish failed');
        return real.copy(from, to);
      },
    };
    await expect(
      landBatch(deps(failPublish), { partitionId: '1', messages: msgs.slice(0, 20) }),
    ).rejects.toThrow('injected');
    const [claimed] = await readLandingRecords(landing, 'telemetry');
    expect(claimed).toMatchObject({ sequenceNumber: -1, claim: { lastSequenceNumber: 19 } });
    // The retry is smaller than the claim (other boundaries): the claim is finished as it was staged.
    const retry = await landBatch(deps(), { partitionId: '1', messages: msgs.slice(0, 10) });
    expect(retry).toMatchObject({ skipped: 10, events: 0 });
    const rest = await landBatch(deps(), { partitionId: '1', messages: msgs.slice(0, 30) });
    expect(rest).toMatchObject({ skipped: 20, events: 10 });
    expect(await allLandedSequenceNumbers()).toEqual([...Array(30).keys()]);
    expect(await indexedEvents()).toBe(30);
    expect(await paths('staging/')).toEqual([]);
    for (const block of await paths('raw/')) expect(await real.exists(idsPath(block))).toBe(true);
  });

  it('dead-letters what ingest did not produce, one file per batch with a reason per message, and lands the neighbours', async () => {
    const notGzip = {
      body: Buffer.from('not gzip'),
      sequenceNumber: 2,
      enqueuedTimeMs: t0,
      properties: { contentEncoding: 'gzip', contentType: 'application/x-ndjson', tenant: 'acme', count: 1 },
    };
    // Another producer's plain JSON event naming a tenant is not landed under that tenant.
    const foreign = {
      body: Buffer.from(JSON.stringify({ id: 'x1', name: 'door.open', time: '2026-11-22T09:59:00Z' })),
      sequenceNumber: 4,
      enqueuedTimeMs: t0,
      properties: { tenant: 'acme' },
    };
    const result = await landBatch(deps(), {
      partitionId: '3',
      messages: [
        packed('acme', 1, t0, [eventLine('acme', 1)]),
        notGzip,
        packed('acme', 3, t0, [eventLine('acme', 3)]),
        foreign,
      ],
    });
    expect(result.events).toBe(2);
    expect(result.deadLettered).toBe(2);
    expect(result.deadLetter).toBe('deadletter/eventhub/date=2026-11-22/hour=10/minute=00/3-2-4.ndjson');
    const letters = (await container.getBlobClient(result.deadLetter!).downloadToBuffer())
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters.map((l) => [l.sequenceNumber, l.code, l.partition])).toEqual([
      [2, 'BODY_UNDECODABLE', '3'],
      [4, 'NOT_INGEST_FORMAT', '3'],
    ]);
    expect(letters[0].reason).toContain('cannot inflate');
    expect(letters[1].bodyBase64).toBe(foreign.body.toString('base64'));
    const [record] = await readLandingRecords(landing, 'telemetry');
    expect(record!.sequenceNumber).toBe(4);
  });

  it('a flood of foreign messages costs one dead-letter write per batch', async () => {
    const flood = Array.from({ length: 2000 }, (_, i) => ({
      body: Buffer.from(`{"junk":${i}}`),
      sequenceNumber: i,
      enqueuedTimeMs: t0,
      properties: {},
    }));
    const result = await landBatch(deps(), {
      partitionId: '0',
      messages: [...flood, packed('acme', 2000, t0, [eventLine('acme', 1)])],
    });
    expect([result.deadLettered, result.events]).toEqual([2000, 1]);
    expect(await paths('deadletter/')).toEqual([
      'deadletter/eventhub/date=2026-11-22/hour=10/minute=00/0-0-1999.ndjson',
    ]);
  });

  it('splits a tenant-minute into several blocks past the maximum block size', async () => {
    const big = 'x'.repeat(300 * 1024);
    const msgs = [0, 1, 2, 3].map((i) => packed('acme', i, t0, [eventLine('acme', i, { pad: big })]));
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
    let raced = false;
    const racing: Lake = {
      ...real,
      put: async (path, body, options) => {
        if (raced) return real.put(path, body, options);
        raced = true;
        // Another instance that took over the partition records its progress while we stage.
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

  it('handover, the new instance claims first: the slow one loses its claim and writes nothing to the raw zone', async () => {
    const msgs = Array.from({ length: 8 }, (_, i) => packed('acme', i, t0 + i, [eventLine('acme', i)]));
    const real = blobLake(container);
    const gate = deferred();
    const slow: Lake = {
      ...real,
      put: async (path, body, options) => {
        await gate.promise;
        return real.put(path, body, options);
      },
    };
    // A lands 0-5 and stalls while staging; B, after the handover, lands 0-7.
    const a = landBatch(deps(slow), { partitionId: '0', messages: msgs.slice(0, 6) });
    const b = await landBatch(deps(), { partitionId: '0', messages: msgs });
    expect(b.events).toBe(8);
    gate.resolve();
    await expect(a).rejects.toMatchObject({ code: 'LANDING_CONFLICT' });
    expect(await allLandedSequenceNumbers()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await indexedEvents()).toBe(8);
    expect((await readLandingRecords(landing, 'telemetry'))[0]).toMatchObject({ sequenceNumber: 7 });
  });

  it('handover, the slow instance claimed first: the new one finishes its claim, the late writes change nothing', async () => {
    const msgs = Array.from({ length: 8 }, (_, i) => packed('acme', i, t0 + i, [eventLine('acme', i)]));
    const real = blobLake(container);
    const gate = deferred();
    const slowPublish: Lake = {
      ...real,
      copy: async (from, to) => {
        await gate.promise;
        return real.copy(from, to);
      },
    };
    const a = landBatch(deps(slowPublish), { partitionId: '0', messages: msgs.slice(0, 6) });
    await until('A to claim', async () => {
      const [record] = await readLandingRecords(landing, 'telemetry');
      return record?.claim ? true : undefined;
    });
    const b = await landBatch(deps(), { partitionId: '0', messages: msgs });
    expect(b).toMatchObject({ skipped: 6, events: 2 });
    // A's publish lands late: the same names, the same bytes.
    gate.resolve();
    await expect(a).rejects.toMatchObject({ code: 'LANDING_CONFLICT' });
    expect(await allLandedSequenceNumbers()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(await paths('raw/')).toEqual([
      blockPath('acme', '202611221000', '0', 0, 5),
      blockPath('acme', '202611221000', '0', 6, 7),
    ]);
    expect(await indexedEvents()).toBe(8);
  });
});
