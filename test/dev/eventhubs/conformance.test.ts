import {
  EventHubBufferedProducerClient,
  EventHubConsumerClient,
  EventHubProducerClient,
  type EventPosition,
  earliestEventPosition,
  latestEventPosition,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';
import { until } from '../../helpers/until.js';

const hub = 'telemetry';
let eh: EventHubsEmulator;
let producer: EventHubProducerClient;
let consumer: EventHubConsumerClient;

beforeAll(async () => {
  eh = await startEventHubs({
    port: 0,
    hubs: [
      { name: hub, partitionCount: 4, consumerGroups: ['$Default', 'land'] },
      { name: 'positions', partitionCount: 1, consumerGroups: ['$Default'] },
      { name: 'buffered', partitionCount: 2, consumerGroups: ['$Default'] },
    ],
  });
  producer = new EventHubProducerClient(eh.connectionString, hub);
  consumer = new EventHubConsumerClient('$Default', eh.connectionString, hub);
});

afterAll(async () => {
  await producer?.close();
  await consumer?.close();
  await eh?.stop();
});

/** Receives from one partition until `count` events arrived (or fails after `timeoutMs`). */
async function receive(
  client: EventHubConsumerClient,
  partitionId: string,
  count: number,
  startPosition: EventPosition,
  options: { trackLastEnqueuedEventProperties?: boolean; quietMs?: number; timeoutMs?: number } = {},
): Promise<ReceivedEventData[]> {
  const events: ReceivedEventData[] = [];
  let sub: Subscription | undefined;
  let last = Date.now();
  try {
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      // Done once `count` events arrived and nothing more came for `quietMs`, so counts are exact.
      const poll = setInterval(() => {
        const now = Date.now();
        if (events.length >= count && now - last >= (options.quietMs ?? 200)) {
          clearInterval(poll);
          resolve();
        } else if (now - started > (options.timeoutMs ?? 10_000)) {
          clearInterval(poll);
          reject(new Error(`Received ${events.length} of ${count} events from partition ${partitionId}`));
        }
      }, 20);
      sub = client.subscribe(
        partitionId,
        {
          processEvents: async (batch) => {
            if (batch.length === 0) return;
            events.push(...batch);
            last = Date.now();
          },
          processError: async (err) => {
            clearInterval(poll);
            reject(err);
          },
        },
        {
          startPosition,
          maxBatchSize: 100,
          maxWaitTimeInSeconds: 0.2,
          trackLastEnqueuedEventProperties: options.trackLastEnqueuedEventProperties,
        },
      );
    });
  } finally {
    await sub?.close();
  }
  return events;
}

describe('event hub and partition properties', () => {
  it('reports the configured hub and partitions', async () => {
    const props = await producer.getEventHubProperties();
    expect(props.name).toBe(hub);
    expect(props.partitionIds).toEqual(['0', '1', '2', '3']);
    expect(props.createdOn).toBeInstanceOf(Date);
    expect(await producer.getPartitionIds()).toEqual(['0', '1', '2', '3']);
  });

  it('reports partition properties before and after sends', async () => {
    const client = new EventHubProducerClient(eh.connectionString, 'positions');
    try {
      const empty = await client.getPartitionProperties('0');
      expect(empty).toMatchObject({
        eventHubName: 'positions',
        partitionId: '0',
        isEmpty: true,
        beginningSequenceNumber: 0,
        lastEnqueuedSequenceNumber: -1,
        lastEnqueuedOffset: '-1',
      });
      const before = Date.now();
      await client.sendBatch([{ body: 'a' }, { body: 'b' }, { body: 'c' }], { partitionId: '0' });
      const after = await client.getPartitionProperties('0');
      expect(after.isEmpty).toBe(false);
      expect(after.beginningSequenceNumber).toBe(0);
      expect(after.lastEnqueuedSequenceNumber).toBe(2);
      expect(after.lastEnqueuedOnUtc.getTime()).toBeGreaterThanOrEqual(before - 5);
      const events = await receive(consumerFor('positions'), '0', 3, earliestEventPosition);
      expect(after.lastEnqueuedOffset).toBe(events[2]!.offset);
    } finally {
      await client.close();
    }
  });
});

const positionConsumers: EventHubConsumerClient[] = [];
function consumerFor(name: string, group = '$Default'): EventHubConsumerClient {
  const c = new EventHubConsumerClient(group, eh.connectionString, name);
  positionConsumers.push(c);
  return c;
}
afterAll(async () => {
  for (const c of positionConsumers) await c.close();
});

describe('sending and receiving', () => {
  it('round-trips body, application properties, content type, correlation id and message id', async () => {
    const batch = await producer.createBatch({ partitionId: '2' });
    expect(batch.maxSizeInBytes).toBe(1048576);
    expect(
      batch.tryAdd({
        body: { kind: 'json', n: 1 },
        properties: { tenant: 't1', count: 42, flag: true },
        contentType: 'application/json',
        correlationId: 'corr-1',
        messageId: 'msg-1',
      }),
    ).toBe(true);
    expect(batch.tryAdd({ body: Buffer.from([1, 2, 3]) })).toBe(true);
    expect(batch.tryAdd({ body: 'plain text' })).toBe(true);
    const start = await producer.getPartitionProperties('2');
    await producer.sendBatch(batch);
    const events = await receive(consumer, '2', 3, { sequenceNumber: start.lastEnqueuedSequenceNumber });
    expect(events.map((e) => e.sequenceNumber)).toEqual(
      [0, 1, 2].map((i) => start.lastEnqueuedSequenceNumber + 1 + i),
    );
    const [first, second, third] = events as [ReceivedEventData, ReceivedEventData, ReceivedEventData];
    expect(first.body).toEqual({ kind: 'json', n: 1 });
    expect(first.properties).toEqual({ tenant: 't1', count: 42, flag: true });
    expect(first.contentType).toBe('application/json');
    expect(first.correlationId).toBe('corr-1');
    expect(first.messageId).toBe('msg-1');
    expect(first.enqueuedTimeUtc).toBeInstanceOf(Date);
    expect(typeof first.offset).toBe('string');
    expect(Buffer.from(second.body as Uint8Array)).toEqual(Buffer.from([1, 2, 3]));
    expect(third.body).toBe('plain text');
    expect(Number(second.offset)).toBeGreaterThan(Number(first.offset));
  });

  it('sends to an explicit partition and keeps events of one partition key together', async () => {
    const before = await Promise.all(['0', '1', '2', '3'].map((id) => producer.getPartitionProperties(id)));
    await producer.sendBatch(
      Array.from({ length: 10 }, (_, i) => ({ body: `k${i}` })),
      { partitionKey: 'device-42' },
    );
    const keyed = await producer.createBatch({ partitionKey: 'device-42' });
    for (let i = 10; i < 20; i++) keyed.tryAdd({ body: `k${i}` });
    await producer.sendBatch(keyed);
    await producer.sendBatch([{ body: 'explicit' }], { partitionId: '3' });
    const after = await Promise.all(['0', '1', '2', '3'].map((id) => producer.getPartitionProperties(id)));
    const grown = after.map((p, i) => p.lastEnqueuedSequenceNumber - before[i]!.lastEnqueuedSequenceNumber);
    const keyedPartition = grown.findIndex((n, i) => (i === 3 ? n - 1 : n) === 20);
    expect(keyedPartition).toBeGreaterThanOrEqual(0);
    expect(grown.reduce((a, b) => a + b, 0)).toBe(21);
    const events = await receive(consumer, String(keyedPartition), 20, {
      sequenceNumber: before[keyedPartition]!.lastEnqueuedSequenceNumber,
    });
    const keyedEvents = events.filter((e) => e.body !== 'explicit');
    expect(keyedEvents.map((e) => e.body)).toEqual(Array.from({ length: 20 }, (_, i) => `k${i}`));
    expect(keyedEvents.every((e) => e.partitionKey === 'device-42')).toBe(true);
  });

  it('spreads events without a key over all partitions', async () => {
    const before = await Promise.all(['0', '1', '2', '3'].map((id) => producer.getPartitionProperties(id)));
    for (let i = 0; i < 8; i++) await producer.sendBatch([{ body: i }]);
    const after = await Promise.all(['0', '1', '2', '3'].map((id) => producer.getPartitionProperties(id)));
    const grown = after.map((p, i) => p.lastEnqueuedSequenceNumber - before[i]!.lastEnqueuedSequenceNumber);
    expect(grown).toEqual([2, 2, 2, 2]);
  });

  it('delivers what EventHubBufferedProducerClient flushes', async () => {
    const buffered = new EventHubBufferedProducerClient(eh.connectionString, 'buffered', {
      onSendEventsErrorHandler: (ctx) => {
        throw ctx.error;
      },
      maxWaitTimeInMs: 100,
    });
    try {
      for (let i = 0; i < 50; i++) await buffered.enqueueEvent({ body: { i }, properties: { i } });
      await buffered.flush();
    } finally {
      await buffered.close();
    }
    const c = consumerFor('buffered');
    const [p0, p1] = await Promise.all([
      receive(c, '0', 0, earliestEventPosition, { quietMs: 300 }),
      receive(c, '1', 0, earliestEventPosition, { quietMs: 300 }),
    ]);
    const all = [...p0, ...p1].map((e) => (e.body as { i: number }).i).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('start positions', () => {
  let events: ReceivedEventData[];
  const name = 'positions';
  const position = (p: EventPosition) => receive(consumerFor(name), '0', 0, p, { quietMs: 400 });

  beforeAll(async () => {
    const client = new EventHubProducerClient(eh.connectionString, name);
    try {
      // The properties test wrote 3 events (a, b, c) first; add 5 more, in two sends with a gap in time.
      await client.sendBatch([{ body: 'd' }, { body: 'e' }], { partitionId: '0' });
      await new Promise((r) => setTimeout(r, 30));
      await client.sendBatch([{ body: 'f' }, { body: 'g' }, { body: 'h' }], { partitionId: '0' });
    } finally {
      await client.close();
    }
    events = await receive(consumerFor(name), '0', 8, earliestEventPosition);
  });

  const bodies = (list: ReceivedEventData[]) => list.map((e) => e.body);

  it('earliest reads everything in order', () => {
    expect(bodies(events)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
    expect(events.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('latest reads only new events', async () => {
    const c = consumerFor(name);
    const received: ReceivedEventData[] = [];
    const sub = c.subscribe(
      '0',
      {
        processEvents: async (b) => {
          received.push(...b);
        },
        processError: async () => {},
      },
      { startPosition: latestEventPosition, maxWaitTimeInSeconds: 0.2 },
    );
    await new Promise((r) => setTimeout(r, 500));
    const client = new EventHubProducerClient(eh.connectionString, name);
    await client.sendBatch([{ body: 'i' }], { partitionId: '0' });
    await client.close();
    await until('the event', () => (received.length >= 1 ? true : undefined), 5000);
    await sub.close();
    expect(bodies(received)).toEqual(['i']);
    expect(received[0]!.sequenceNumber).toBe(8);
  });

  it('offset, exclusive and inclusive', async () => {
    const e3 = events[3]!;
    expect(bodies(await position({ offset: e3.offset }))).toEqual(['e', 'f', 'g', 'h', 'i']);
    expect(bodies(await position({ offset: e3.offset, isInclusive: true }))).toEqual([
      'd',
      'e',
      'f',
      'g',
      'h',
      'i',
    ]);
  });

  it('sequence number, exclusive and inclusive', async () => {
    expect(bodies(await position({ sequenceNumber: 5 }))).toEqual(['g', 'h', 'i']);
    expect(bodies(await position({ sequenceNumber: 5, isInclusive: true }))).toEqual(['f', 'g', 'h', 'i']);
  });

  it('enqueued time reads events enqueued after it', async () => {
    const t = events[4]!.enqueuedTimeUtc;
    expect(events[5]!.enqueuedTimeUtc.getTime()).toBeGreaterThan(t.getTime());
    expect(bodies(await position({ enqueuedOn: t }))).toEqual(['f', 'g', 'h', 'i']);
    expect(bodies(await position({ enqueuedOn: t.getTime() }))).toEqual(['f', 'g', 'h', 'i']);
  });
});

describe('trackLastEnqueuedEventProperties', () => {
  it('exposes the last enqueued event of the partition on the partition context', async () => {
    const client = new EventHubProducerClient(eh.connectionString, hub);
    const before = await client.getPartitionProperties('1');
    await client.sendBatch(
      Array.from({ length: 5 }, (_, i) => ({ body: i })),
      { partitionId: '1' },
    );
    const last = await client.getPartitionProperties('1');
    await client.close();
    const c = consumerFor(hub);
    let seen: { sequenceNumber?: number; offset?: string; enqueuedOn?: Date; retrievedOn?: Date } | undefined;
    const sub = c.subscribe(
      '1',
      {
        processEvents: async (batch, ctx) => {
          if (batch.length > 0) seen = { ...ctx.lastEnqueuedEventProperties };
        },
        processError: async () => {},
      },
      {
        startPosition: { sequenceNumber: before.lastEnqueuedSequenceNumber },
        trackLastEnqueuedEventProperties: true,
        maxWaitTimeInSeconds: 0.2,
      },
    );
    await until('an event with runtime info', () => seen, 5000);
    await sub.close();
    expect(seen?.sequenceNumber).toBe(last.lastEnqueuedSequenceNumber);
    expect(seen?.offset).toBe(last.lastEnqueuedOffset);
    expect(seen?.enqueuedOn?.getTime()).toBe(last.lastEnqueuedOnUtc.getTime());
    expect(seen?.retrievedOn).toBeInstanceOf(Date);
  });
});
