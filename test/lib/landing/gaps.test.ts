import { gunzipSync } from 'node:zlib';
import { TableClient } from '@azure/data-tables';
import { EventHubConsumerClient, EventHubProducerClient } from '@azure/event-hubs';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';
import { blobLake } from '../../../lib/lake/index.js';
import { listGaps } from '../../../lib/landing/gaps.js';
import { type LandingDeps, landBatch } from '../../../lib/landing/land.js';
import { rereadFrom } from '../../../lib/landing/reread.js';
import { readLandingRecords } from '../../../lib/landing/watermarks.js';
import { eventLine, packed } from './fixtures.js';

let azurite: Azurite;
let eh: EventHubsEmulator;
let producer: EventHubProducerClient;
let reader: EventHubConsumerClient;
let container: ContainerClient;
let blockIndex: TableClient;
let landing: TableClient;

beforeAll(async () => {
  azurite = await startAzurite();
  eh = await startEventHubs({
    port: 0,
    hubs: [{ name: 'telemetry', partitionCount: 2, consumerGroups: ['$Default', 'land'] }],
  });
  producer = new EventHubProducerClient(eh.connectionString, 'telemetry');
  reader = new EventHubConsumerClient('$Default', eh.connectionString, 'telemetry');
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
  await container.create();
  const opts = { allowInsecureConnection: true };
  blockIndex = TableClient.fromConnectionString(azurite.connectionString, 'blockindex', opts);
  landing = TableClient.fromConnectionString(azurite.connectionString, 'landing', opts);
  await blockIndex.createTable();
  await landing.createTable();
});
afterAll(async () => {
  await producer?.close();
  await reader?.close();
  await eh?.stop();
  await azurite?.stop();
});

function deps(reread?: LandingDeps['reread']): LandingDeps {
  return {
    lake: blobLake(container),
    blockIndex,
    landing,
    eventHubName: 'telemetry',
    gzipLevel: 1,
    maxBlockBytes: 1024 * 1024,
    reread,
  };
}

async function landedIds(partition: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: 'raw/' })) {
    const lines = gunzipSync(await container.getBlobClient(blob.name).downloadToBuffer())
      .toString()
      .trim()
      .split('\n');
    for (const l of lines) {
      const e = JSON.parse(l) as { id: string; partition: string };
      if (e.partition === partition) ids.push(e.id);
    }
  }
  return ids.sort();
}

describe('landing: gaps after the watermark', () => {
  it('reads missed sequence numbers again from Event Hubs and lands them, exactly once', async () => {
    // 20 packs on partition 0, as ingest publishes them.
    const packs = Array.from({ length: 20 }, (_, i) => packed('acme', i, 0, [eventLine('acme', i)]));
    for (const p of packs) {
      await producer.sendBatch([{ body: p.body, properties: p.properties }], { partitionId: '0' });
    }
    const hub = await rereadFrom(reader)('0', 0, 19);
    expect(hub.map((m) => m.sequenceNumber)).toEqual([...Array(20).keys()]);

    await landBatch(deps(rereadFrom(reader)), { partitionId: '0', messages: hub.slice(0, 10) });
    // The trigger's in-memory position ran ahead of what landed (storage lost the writes of
    // 10..14): the next batch starts at 15.
    const result = await landBatch(deps(rereadFrom(reader)), { partitionId: '0', messages: hub.slice(15) });
    expect([result.recovered, result.gaps, result.events]).toEqual([5, [], 10]);
    expect(await landedIds('0')).toEqual([...Array(20).keys()].map((i) => `e-acme-${i}`).sort());
    expect((await readLandingRecords(landing, 'telemetry')).find((r) => r.partitionId === '0')).toMatchObject(
      {
        sequenceNumber: 19,
      },
    );
  });

  it('records what Event Hubs no longer has as a gap, and lands the rest', async () => {
    const first = [
      packed('acme', 0, 0, [eventLine('acme', 100)]),
      packed('acme', 1, 0, [eventLine('acme', 101)]),
    ];
    await landBatch(deps(), { partitionId: '1', messages: first });
    // Retention passed while landing was down: the hub starts at 7 now (an injected fault).
    const gone = async () => [packed('acme', 7, 0, [eventLine('acme', 107)])];
    const later = [8, 9].map((s) => packed('acme', s, 0, [eventLine('acme', 100 + s)]));
    const result = await landBatch(
      { ...deps(gone), now: () => Date.UTC(2026, 11, 1) },
      { partitionId: '1', messages: later },
    );
    expect(result.recovered).toBe(1);
    expect(result.gaps).toEqual([
      {
        partitionId: '1',
        first: 2,
        last: 6,
        detectedAt: '2026-12-01T00:00:00.000Z',
        reason: 'Event Hubs no longer retains these events (landing was behind by more than the retention)',
      },
    ]);
    expect(await listGaps(landing, 'telemetry')).toEqual(result.gaps);
    expect(await landedIds('1')).toEqual([
      'e-acme-100',
      'e-acme-101',
      'e-acme-107',
      'e-acme-108',
      'e-acme-109',
    ]);
  });

  it('a failed re-read is retried, never taken for a loss', async () => {
    const failing = async () => {
      throw new Error('injected: Event Hubs unreachable');
    };
    const attempt = landBatch(deps(failing), {
      partitionId: '1',
      messages: [packed('acme', 12, 0, [eventLine('acme', 112)])],
    });
    await expect(attempt).rejects.toThrow('injected');
    expect(await listGaps(landing, 'telemetry')).toHaveLength(1);
  });
});
