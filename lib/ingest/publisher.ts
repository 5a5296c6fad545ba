import type { EventData, EventHubProducerClient } from '@azure/event-hubs';
import type { Pack } from './pack.js';

/** Where packs go. Resolves once every pack is durably accepted; rejects if any is not. */
export interface Publisher {
  publish(packs: readonly Pack[]): Promise<void>;
}

export class PublishError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'PublishError';
  }
}

function eventData(pack: Pack): EventData {
  return { body: pack.body, contentType: pack.properties.contentType, properties: { ...pack.properties } };
}

/**
 * Publishes through the process's shared `EventHubProducerClient`: one batch per partition key
 * (so one device's events stay ordered on one partition), several keys sent concurrently.
 */
export function eventHubPublisher(producer: EventHubProducerClient): Publisher {
  const sendKey = async (partitionKey: string, packs: Pack[]) => {
    let batch = await producer.createBatch({ partitionKey });
    for (const pack of packs) {
      const data = eventData(pack);
      if (batch.tryAdd(data)) continue;
      if (batch.count === 0)
        throw new PublishError(`A pack of ${pack.body.byteLength} bytes exceeds the batch size`);
      await producer.sendBatch(batch);
      batch = await producer.createBatch({ partitionKey });
      if (!batch.tryAdd(data))
        throw new PublishError(`A pack of ${pack.body.byteLength} bytes exceeds the batch size`);
    }
    if (batch.count > 0) await producer.sendBatch(batch);
  };
  return {
    async publish(packs) {
      const byKey = new Map<string, Pack[]>();
      for (const pack of packs) {
        const list = byKey.get(pack.partitionKey);
        if (list) list.push(pack);
        else byKey.set(pack.partitionKey, [pack]);
      }
      const results = await Promise.allSettled([...byKey].map(([key, list]) => sendKey(key, list)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed)
        throw new PublishError(`Event Hubs did not take the events: ${String(failed.reason)}`, failed.reason);
    },
  };
}
