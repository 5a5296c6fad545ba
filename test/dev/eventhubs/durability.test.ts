import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { afterAll, describe, expect, it } from 'vitest';
import { type EventHubsEmulatorOptions, startEventHubs } from '../../../dev/eventhubs/index.js';
import { until } from '../../helpers/until.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'eventhubs-test-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const hubs = [{ name: 'telemetry', partitionCount: 2, consumerGroups: ['$Default'] }];

/** Starts a server, runs `fn` with a producer, then stops everything. */
async function withServer<T>(
  options: EventHubsEmulatorOptions,
  fn: (producer: EventHubProducerClient, cs: string) => Promise<T>,
): Promise<T> {
  const eh = await startEventHubs({ port: 0, hubs, ...options });
  const producer = new EventHubProducerClient(eh.connectionString, 'telemetry');
  try {
    return await fn(producer, eh.connectionString);
  } finally {
    await producer.close();
    await eh.stop();
  }
}

async function readAll(cs: string, partitionId: string, count: number): Promise<ReceivedEventData[]> {
  const client = new EventHubConsumerClient('$Default', cs, 'telemetry');
  const events: ReceivedEventData[] = [];
  const errors: Error[] = [];
  const sub = client.subscribe(
    partitionId,
    {
      processEvents: async (b) => void events.push(...b),
      processError: async (e) => void errors.push(e),
    },
    { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 0.2, maxBatchSize: 200 },
  );
  await until(`${count} events`, () => (events.length >= count ? true : undefined), 10_000);
  await new Promise((r) => setTimeout(r, 250));
  await sub.close();
  await client.close();
  expect(errors).toEqual([]);
  return events;
}

describe('the on-disk log', () => {
  it('keeps events across a restart; sequence numbers and offsets continue', async () => {
    const dataDir = tempDir();
    const first = await withServer({ dataDir }, async (p, cs) => {
      await p.sendBatch(
        Array.from({ length: 5 }, (_, i) => ({ body: `a${i}`, properties: { i } })),
        { partitionId: '0' },
      );
      return readAll(cs, '0', 5);
    });
    expect(first.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3, 4]);

    const second = await withServer({ dataDir }, async (p, cs) => {
      const props = await p.getPartitionProperties('0');
      expect(props.lastEnqueuedSequenceNumber).toBe(4);
      expect(props.lastEnqueuedOffset).toBe(first[4]!.offset);
      expect(props.lastEnqueuedOnUtc.getTime()).toBe(first[4]!.enqueuedTimeUtc.getTime());
      await p.sendBatch([{ body: 'b0' }, { body: 'b1' }], { partitionId: '0' });
      return readAll(cs, '0', 7);
    });
    expect(second.map((e) => e.body)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1']);
    expect(second.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(second.slice(0, 5).map((e) => e.offset)).toEqual(first.map((e) => e.offset));
    expect(second.slice(0, 5).map((e) => e.properties)).toEqual(first.map((e) => e.properties));
    const offsets = second.map((e) => Number(e.offset));
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    expect(new Set(offsets).size).toBe(7);
  });

  it('tolerates a torn record at the tail', async () => {
    const dataDir = tempDir();
    await withServer({ dataDir }, (p) =>
      p.sendBatch([{ body: 'x0' }, { body: 'x1' }, { body: 'x2' }], { partitionId: '1' }),
    );
    const partDir = join(dataDir, 'telemetry', '1');
    const segment = readdirSync(partDir)
      .filter((n) => n.endsWith('.seg'))
      .sort()
      .at(-1)!;
    // Half a frame: a length that promises more bytes than follow, as after a crash mid-write.
    const torn = Buffer.alloc(40, 0xab);
    torn.writeUInt32LE(5000, 0);
    appendFileSync(join(partDir, segment), torn);

    const events = await withServer({ dataDir }, async (p, cs) => {
      expect((await p.getPartitionProperties('1')).lastEnqueuedSequenceNumber).toBe(2);
      await p.sendBatch([{ body: 'x3' }], { partitionId: '1' });
      return readAll(cs, '1', 4);
    });
    expect(events.map((e) => e.body)).toEqual(['x0', 'x1', 'x2', 'x3']);
    expect(events.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3]);

    // And the repaired log reads back the same after another restart.
    const again = await withServer({ dataDir }, (_p, cs) => readAll(cs, '1', 4));
    expect(again.map((e) => e.body)).toEqual(['x0', 'x1', 'x2', 'x3']);
  });

  it('drops old segments by size', async () => {
    const dataDir = tempDir();
    const body = 'z'.repeat(1000);
    const events = await withServer({ dataDir, segmentBytes: 4096, retentionBytes: 8192 }, async (p, cs) => {
      for (let i = 0; i < 10; i++) await p.sendBatch([{ body, properties: { i } }], { partitionId: '0' });
      return readAll(cs, '0', 1);
    });
    // Restarting enforces retention: at most retentionBytes (plus the active segment) survive.
    const after = await withServer({ dataDir, segmentBytes: 4096, retentionBytes: 8192 }, async (p, cs) => {
      const props = await p.getPartitionProperties('0');
      expect(props.lastEnqueuedSequenceNumber).toBe(9);
      expect(props.beginningSequenceNumber).toBeGreaterThan(0);
      const kept = await readAll(cs, '0', 10 - props.beginningSequenceNumber);
      expect(kept[0]!.sequenceNumber).toBe(props.beginningSequenceNumber);
      return kept;
    });
    expect(events.length).toBeLessThan(10);
    expect(after.map((e) => e.properties?.i)).toEqual(
      Array.from({ length: after.length }, (_, k) => 10 - after.length + k),
    );
  });

  it('drops events older than the retention period, keeping the numbering', async () => {
    const dataDir = tempDir();
    await withServer({ dataDir }, (p) =>
      p.sendBatch([{ body: 'old0' }, { body: 'old1' }], { partitionId: '0' }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const events = await withServer({ dataDir, retentionMs: 200 }, async (p, cs) => {
      const props = await p.getPartitionProperties('0');
      expect(props.isEmpty).toBe(true);
      expect(props.beginningSequenceNumber).toBe(2);
      expect(props.lastEnqueuedSequenceNumber).toBe(1);
      await p.sendBatch([{ body: 'new' }], { partitionId: '0' });
      return readAll(cs, '0', 1);
    });
    expect(events.map((e) => [e.body, e.sequenceNumber])).toEqual([['new', 2]]);
  });
});
