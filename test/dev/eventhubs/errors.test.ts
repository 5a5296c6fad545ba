import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  type MessagingError,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';
import { until } from '../../helpers/until.js';

let eh: EventHubsEmulator;
const closers: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  eh = await startEventHubs({
    port: 0,
    hubs: [{ name: 'telemetry', partitionCount: 2, consumerGroups: ['$Default', 'land'] }],
  });
});

afterAll(async () => {
  for (const c of closers) await c.close().catch(() => {});
  await eh?.stop();
});

function track<T extends { close(): Promise<void> }>(c: T): T {
  closers.push(c);
  return c;
}

/** Awaits a rejection, asserting it came quickly. */
async function rejection(p: Promise<unknown>, withinMs = 5000): Promise<MessagingError> {
  const started = Date.now();
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as MessagingError,
  );
  expect(Date.now() - started).toBeLessThan(withinMs);
  return err;
}

describe('errors surface as the SDK MessagingErrors', () => {
  it('send to an unknown hub: MessagingEntityNotFoundError', async () => {
    const p = track(new EventHubProducerClient(eh.connectionString, 'nope'));
    const err = await rejection(p.sendBatch([{ body: 1 }]));
    expect(err.name).toBe('MessagingError');
    expect(err.code).toBe('MessagingEntityNotFoundError');
    const err2 = await rejection(p.getEventHubProperties());
    expect(err2.code).toBe('MessagingEntityNotFoundError');
  });

  it('oversized message: MessageTooLargeError, and tryAdd refuses it', async () => {
    const p = track(new EventHubProducerClient(eh.connectionString, 'telemetry'));
    const big = { body: Buffer.alloc(1024 * 1024 + 10, 7) };
    const err = await rejection(p.sendBatch([big], { partitionId: '0' }));
    expect(err.name).toBe('MessagingError');
    expect(err.code).toBe('MessageTooLargeError');
    const batch = await p.createBatch();
    expect(batch.maxSizeInBytes).toBe(1048576);
    expect(batch.tryAdd(big)).toBe(false);
    expect(batch.tryAdd({ body: Buffer.alloc(1000) })).toBe(true);
    // Nothing was appended by the rejected send.
    expect((await p.getPartitionProperties('0')).isEmpty).toBe(true);
  });

  it('unknown consumer group: MessagingEntityNotFoundError in processError', async () => {
    const c = track(new EventHubConsumerClient('nogroup', eh.connectionString, 'telemetry'));
    const errors: MessagingError[] = [];
    const started = Date.now();
    const sub = c.subscribe(
      '0',
      { processEvents: async () => {}, processError: async (e) => void errors.push(e as MessagingError) },
      { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 0.2 },
    );
    const err = await until('the receive error', () => errors[0], 8000);
    await sub.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.code).toBe('MessagingEntityNotFoundError');
  });

  it('unknown key name: UnauthorizedError', async () => {
    const cs = eh.connectionString.replace(
      'SharedAccessKeyName=RootManageSharedAccessKey',
      'SharedAccessKeyName=Nobody',
    );
    const p = track(new EventHubProducerClient(cs, 'telemetry', { retryOptions: { maxRetries: 0 } }));
    const err = await rejection(p.getEventHubProperties());
    expect(err.name).toBe('MessagingError');
    expect(err.code).toBe('UnauthorizedError');
    const err2 = await rejection(p.sendBatch([{ body: 1 }]));
    expect(err2.code).toBe('UnauthorizedError');
  });

  it('wrong key value: UnauthorizedError', async () => {
    const cs = eh.connectionString.replace('SharedAccessKey=SAS_KEY_VALUE', 'SharedAccessKey=wrong');
    const p = track(new EventHubProducerClient(cs, 'telemetry', { retryOptions: { maxRetries: 0 } }));
    const err = await rejection(p.getEventHubProperties());
    expect(err.code).toBe('UnauthorizedError');
  });
});

describe('owner level (epoch)', () => {
  it('a higher owner level takes over; a lower one is refused', async () => {
    const producer = track(new EventHubProducerClient(eh.connectionString, 'telemetry'));
    const subscribe = (ownerLevel: number) => {
      const client = track(new EventHubConsumerClient('land', eh.connectionString, 'telemetry'));
      const state = {
        events: [] as ReceivedEventData[],
        errors: [] as MessagingError[],
        sub: undefined as unknown,
      };
      state.sub = client.subscribe(
        '1',
        {
          processEvents: async (b) => void state.events.push(...b),
          processError: async (e) => void state.errors.push(e as MessagingError),
        },
        { startPosition: earliestEventPosition, ownerLevel, maxWaitTimeInSeconds: 0.2 },
      );
      return state as typeof state & { sub: Subscription };
    };

    const low = subscribe(1);
    await producer.sendBatch([{ body: 'one' }], { partitionId: '1' });
    await until('the low-epoch event', () => (low.events.length === 1 ? true : undefined), 8000);

    const high = subscribe(2);
    const stolen = await until(
      'the takeover',
      () => low.errors.find((e) => e.code === 'ReceiverDisconnectedError'),
      8000,
    );
    expect(stolen.name).toBe('MessagingError');
    await until('the high-epoch event', () => (high.events.length === 1 ? true : undefined), 8000);

    const lower = subscribe(1);
    const refused = await until(
      'the refusal',
      () => lower.errors.find((e) => e.code === 'ReceiverDisconnectedError'),
      8000,
    );
    expect(refused.message).toMatch(/higher owner level/);

    await producer.sendBatch([{ body: 'two' }], { partitionId: '1' });
    await until('the second high-epoch event', () => (high.events.length === 2 ? true : undefined), 8000);
    expect(high.events.map((e) => e.body)).toEqual(['one', 'two']);
    expect(high.errors).toEqual([]);
    await Promise.all([low.sub.close(), high.sub.close(), lower.sub.close()]);
    expect(low.events.map((e) => e.body)).toEqual(['one']);
    expect(lower.events).toEqual([]);
  });
});
