import { gunzipSync, gzipSync } from 'node:zlib';
import { EventHubProducerClient } from '@azure/event-hubs';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost } from '../../dev/host/index.js';
import type { LogRecord } from '../../dev/host/log.js';
import { currentWatermark, defaultClockSkewMs } from '../../lib/landing/progress.js';
import { readLandingRecords } from '../../lib/landing/watermarks.js';
import { services } from '../../lib/services/index.js';
import { root, startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

let stack: TestStack;
let producer: EventHubProducerClient;
let lake: ContainerClient;

beforeAll(async () => {
  stack = await startTestStack({
    modules: ['functions/land.ts'],
    adjustHostJson: (h) => {
      h.extensions.eventHubs.maxWaitTime = 200;
    },
  });
  producer = new EventHubProducerClient(stack.settings.EventHubConnection!, 'telemetry');
  lake = BlobServiceClient.fromConnectionString(stack.settings.TelemetryLake!).getContainerClient('lake');
});
afterAll(async () => {
  await producer?.close();
  await stack?.stop();
});

function pack(tenant: string, ids: string[]) {
  // As ingest writes them: id first, then name, time and the server fields.
  const lines = ids.map((id) =>
    JSON.stringify({
      id,
      name: 'feature.used',
      time: new Date().toISOString(),
      tenant,
      receivedAt: new Date().toISOString(),
      core: { deviceId: 'd1', userKind: 'external' },
    }),
  );
  return {
    body: gzipSync(`${lines.join('\n')}\n`),
    properties: { tenant, count: lines.length, contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
  };
}

async function landedIds(prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const blob of lake.listBlobsFlat({ prefix })) {
    const text = gunzipSync(await lake.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
    for (const line of text.trimEnd().split('\n')) ids.push((JSON.parse(line) as { id: string }).id);
  }
  return ids.sort();
}

async function landedSequence(partition: string): Promise<number> {
  const records = await readLandingRecords(services().table('landing'), 'telemetry');
  return records.find((r) => r.partitionId === partition)?.sequenceNumber ?? -1;
}

describe('land (Event Hub trigger through the local host)', () => {
  it('lands every event of every tenant exactly once, in tenant folders', async () => {
    const expected: string[] = [];
    for (let b = 0; b < 6; b++) {
      const tenant = b % 2 ? 'acme' : 'zeta';
      const batch = await producer.createBatch({ partitionKey: `${tenant}:device-${b}` });
      for (let i = 0; i < 5; i++) {
        const ids = Array.from({ length: 20 }, (_, k) => `${tenant}-${b}-${i}-${k}`);
        expected.push(...ids);
        expect(batch.tryAdd(pack(tenant, ids))).toBe(true);
      }
      await producer.sendBatch(batch);
    }
    const partitions = await Promise.all(
      (await producer.getPartitionIds()).map((id) => producer.getPartitionProperties(id)),
    );
    await until('everything to land', async () => {
      const landed = await Promise.all(partitions.map((p) => landedSequence(p.partitionId)));
      return partitions.every((p, i) => p.isEmpty || landed[i]! >= p.lastEnqueuedSequenceNumber)
        ? true
        : undefined;
    });
    expect(await landedIds('raw/tenant=acme/')).toEqual(
      expected.filter((id) => id.startsWith('acme')).sort(),
    );
    expect(await landedIds('raw/tenant=zeta/')).toEqual(
      expected.filter((id) => id.startsWith('zeta')).sort(),
    );

    // Idle partitions (those that got nothing) do not hold the watermark back.
    const before = Date.now();
    const watermark = await currentWatermark({
      landing: services().table('landing'),
      eventHub: producer,
      now: Date.now,
    });
    expect(watermark.slowestPartition).toBeUndefined();
    // Caught up everywhere: "now", less the margin for clock skew against Event Hubs.
    expect(watermark.timeMs).toBeGreaterThanOrEqual(before - defaultClockSkewMs);
    expect(watermark.timeMs).toBeLessThanOrEqual(Date.now() - defaultClockSkewMs);
  });

  it('dead-letters a corrupt body and keeps landing the partition', async () => {
    await producer.sendBatch(
      [
        {
          body: Buffer.from('definitely not gzip'),
          properties: { tenant: 'acme', contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
        },
        pack('acme', ['after-corrupt']),
      ],
      { partitionId: '3' },
    );
    const last = (await producer.getPartitionProperties('3')).lastEnqueuedSequenceNumber;
    await until('partition 3 to land', async () => ((await landedSequence('3')) >= last ? true : undefined));
    const letters: string[] = [];
    for await (const blob of lake.listBlobsFlat({ prefix: 'deadletter/' })) letters.push(blob.name);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatch(new RegExp(`/3-${last - 1}-${last - 1}\\.ndjson$`));
    expect(await landedIds('raw/tenant=acme/')).toContain('after-corrupt');
  });

  it('retries a batch while the lake is unavailable, then lands it once', async () => {
    // A real fault: the lake's file system disappears, so every write fails until it is back.
    await lake.delete();
    await producer.sendBatch([pack('omega', ['o-1', 'o-2'])], { partitionId: '1' });
    const last = (await producer.getPartitionProperties('1')).lastEnqueuedSequenceNumber;
    await until('a failed attempt', async () =>
      stack.logs.some((l) => l.category === 'EventHub.land' && l.message.includes('retry'))
        ? true
        : undefined,
    );
    expect(await landedSequence('1')).toBeLessThan(last);
    await until('the lake to come back', async () => {
      try {
        await lake.create();
        return true;
      } catch {
        return undefined; // a container being deleted cannot be recreated at once
      }
    });
    await until('partition 1 to land', async () => ((await landedSequence('1')) >= last ? true : undefined));
    expect(await landedIds('raw/tenant=omega/')).toEqual(['o-1', 'o-2']);
  });

  it('a redelivery from an older checkpoint (a restarted host) lands nothing twice', async () => {
    const before = await landedIds('raw/');
    await stack.host.stop();
    // Forget every checkpoint: the next host reads each partition from its beginning again.
    const checkpoints = BlobServiceClient.fromConnectionString(
      stack.settings.AzureWebJobsStorage!,
    ).getContainerClient('azure-webjobs-eventhub');
    for await (const blob of checkpoints.listBlobsFlat()) await checkpoints.deleteBlob(blob.name);
    const logs: LogRecord[] = [];
    const host = await startHost({
      root,
      modules: [],
      only: ['land'],
      log: (r) => logs.push(r),
      adjustHostJson: (h) => {
        h.extensions.eventHubs.maxWaitTime = 200;
      },
    });
    try {
      const redelivered = await until('the redelivered batches', async () => {
        const skipped = logs.filter((l) => /[1-9]\d* already landed/.test(l.message));
        return skipped.length >= 4 ? skipped : undefined;
      });
      expect(redelivered.every((l) => / 0 events in 0 blocks/.test(l.message))).toBe(true);
      expect(await landedIds('raw/')).toEqual(before);
    } finally {
      await host.stop();
    }
  });
});
