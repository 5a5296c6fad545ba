import { createServer } from 'node:net';
import { EventHubProducerClient } from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventHubsEmulator, startEventHubs } from '../../../dev/eventhubs/index.js';
import { Packer } from '../../../lib/ingest/pack.js';
import { eventHubPublisher, publishWithin } from '../../../lib/ingest/publisher.js';

let hub: EventHubsEmulator;
beforeAll(async () => {
  hub = await startEventHubs({ port: 0 });
});
afterAll(() => hub?.stop());

/** A port nothing listens on: one the OS just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function packs() {
  const packer = new Packer('t');
  packer.add('0', '{"id":"a"}');
  packer.add('1', '{"id":"b"}');
  return packer.finish();
}

describe('eventHubPublisher (the real SDK)', () => {
  it('reads the partition ids and publishes packs to their partitions', async () => {
    const producer = new EventHubProducerClient(hub.connectionString, 'telemetry');
    const publisher = eventHubPublisher(producer);
    expect(await publisher.partitionIds()).toEqual(['0', '1', '2', '3']);
    await publisher.publish(packs());
    const [p0, p1] = await Promise.all([
      producer.getPartitionProperties('0'),
      producer.getPartitionProperties('1'),
    ]);
    expect([p0.lastEnqueuedSequenceNumber, p1.lastEnqueuedSequenceNumber]).toEqual([0, 0]);
    await producer.close();
  });

  it('during an outage, answers at the deadline and aborts the send instead of retrying it later', async () => {
    // Nothing listens there: the SDK would retry for minutes (3 retries, 30 s apart) without the abort.
    const port = await closedPort();
    const producer = new EventHubProducerClient(
      `Endpoint=sb://127.0.0.1:${port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true`,
      'telemetry',
    );
    const inner = eventHubPublisher(producer);
    let send: Promise<void> | undefined;
    const observed = {
      partitionIds: inner.partitionIds,
      publish: (list: Parameters<typeof inner.publish>[0], options: Parameters<typeof inner.publish>[1]) => {
        send = inner.publish(list, options);
        return send;
      },
    };
    const err = await publishWithin(observed, packs(), 300).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 503, code: 'PUBLISH_UNAVAILABLE', headers: { 'retry-after': '5' } });
    // The SDK call itself ends, aborted: nothing of it goes out after the client got its 503.
    const outcome = await send!.then(
      () => 'sent',
      (e: { cause?: { name?: string } }) => e.cause?.name,
    );
    expect(outcome).toBe('AbortError');
    await producer.close();
  }, 20_000);
});
