import type { EventData, EventHubProducerClient } from '@azure/event-hubs';
import { withDeadline } from './deadline.js';
import { IngestError } from './errors.js';
import type { Pack } from './pack.js';

export interface PublishOptions {
  /** Aborts what has not been sent yet (the request's deadline passed). */
  abortSignal?: AbortSignal;
}

/** Where packs go. `publish` resolves once every pack is durably accepted; rejects if any is not. */
export interface Publisher {
  /** The hub's partition ids: events are packed per partition. */
  partitionIds(options?: PublishOptions): Promise<readonly string[]>;
  publish(packs: readonly Pack[], options?: PublishOptions): Promise<void>;
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
 * Publishes through the process's shared `EventHubProducerClient`, to partitions by id: packs of
 * one partition go out in order as batches, one partition after another within it, and the
 * partitions of a request concurrently (at most the hub's partition count at once).
 */
export function eventHubPublisher(producer: EventHubProducerClient): Publisher {
  // The partition ids, read once per process (a hub's partitions do not change on Standard).
  let ids: Promise<readonly string[]> | undefined;
  const sendPartition = async (partitionId: string, packs: Pack[], abortSignal?: AbortSignal) => {
    let batch = await producer.createBatch({ partitionId, abortSignal });
    for (const pack of packs) {
      const data = eventData(pack);
      if (batch.tryAdd(data)) continue;
      if (batch.count === 0)
        throw new PublishError(`A pack of ${pack.body.byteLength} bytes exceeds the batch size`);
      await producer.sendBatch(batch, { abortSignal });
      batch = await producer.createBatch({ partitionId, abortSignal });
      if (!batch.tryAdd(data))
        throw new PublishError(`A pack of ${pack.body.byteLength} bytes exceeds the batch size`);
    }
    if (batch.count > 0) await producer.sendBatch(batch, { abortSignal });
  };
  return {
    partitionIds(options) {
      if (!ids) {
        const read = producer.getPartitionIds({ abortSignal: options?.abortSignal });
        ids = read;
        // A failed read is not kept: the next request asks again.
        read.catch(() => {
          if (ids === read) ids = undefined;
        });
      }
      return ids;
    },
    async publish(packs, options) {
      const byPartition = new Map<string, Pack[]>();
      for (const pack of packs) {
        const list = byPartition.get(pack.partitionId);
        if (list) list.push(pack);
        else byPartition.set(pack.partitionId, [pack]);
      }
      const results = await Promise.allSettled(
        [...byPartition].map(([id, list]) => sendPartition(id, list, options?.abortSignal)),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed)
        throw new PublishError(`Event Hubs did not take the events: ${String(failed.reason)}`, failed.reason);
    },
  };
}

/** What a client is told to wait before resending after a 503, in seconds. */
export const RETRY_AFTER_SECONDS = 5;

/** The hub's partition ids within the deadline, or the 503 the client retries on (nothing was sent). */
export async function partitionIdsWithin(
  publisher: Publisher,
  deadlineMs: number,
): Promise<readonly string[]> {
  try {
    return await withDeadline(deadlineMs, (abortSignal) => publisher.partitionIds({ abortSignal }));
  } catch (err) {
    throw new IngestError(
      'PUBLISH_UNAVAILABLE',
      `Event Hubs did not answer within ${deadlineMs} ms (${(err as Error).message}); nothing of this request was published: resend it`,
      { 'retry-after': String(RETRY_AFTER_SECONDS) },
      err,
    );
  }
}

/**
 * Publishes within the deadline. At the deadline, what is not sent yet is abandoned (the SDK call
 * is aborted, so nothing goes out after the client was answered) and the client gets a 503. Packs
 * go to Event Hubs concurrently, so some may be in already: the answer says to resend everything,
 * which is safe because every event has an id and curate removes duplicates by id.
 */
export async function publishWithin(
  publisher: Publisher,
  packs: readonly Pack[],
  deadlineMs: number,
): Promise<void> {
  if (packs.length === 0) return;
  try {
    await withDeadline(deadlineMs, (abortSignal) => publisher.publish(packs, { abortSignal }));
  } catch (err) {
    throw new IngestError(
      'PUBLISH_UNAVAILABLE',
      `Event Hubs did not take every event of this request within ${deadlineMs} ms (${(err as Error).message}); ` +
        'some may already be stored. Resend the whole request: event ids make the resend safe, and curate removes the duplicates by id',
      { 'retry-after': String(RETRY_AFTER_SECONDS) },
      err,
    );
  }
}
