import type { EventHubConsumerClient, ReceivedEventData, Subscription } from '@azure/event-hubs';
import type { LandingMessage } from './decode.js';

/**
 * Reads a partition's messages `first`..`last` again, through a consumer group of its own (the
 * landing trigger holds its group's partitions exclusively): every message the hub still retains
 * in that range, in order. Rejects when the read fails or does not finish in time, so a slow or
 * failing read is retried rather than taken for a loss.
 */
export function rereadFrom(client: EventHubConsumerClient, timeoutMs = 60_000) {
  return async (partitionId: string, first: number, last: number): Promise<LandingMessage[]> => {
    const props = await client.getPartitionProperties(partitionId);
    if (props.isEmpty) return [];
    const from = Math.max(first, props.beginningSequenceNumber);
    const to = Math.min(last, props.lastEnqueuedSequenceNumber);
    if (from > to) return [];
    const out: LandingMessage[] = [];
    let subscription: Subscription | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`reading partition ${partitionId} from ${from} to ${to} took over ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
        subscription = client.subscribe(
          partitionId,
          {
            processEvents: async (events) => {
              for (const e of events) if (e.sequenceNumber <= to) out.push(landingMessageOf(e));
              if (out.length > 0 && out[out.length - 1]!.sequenceNumber >= to) {
                clearTimeout(timer);
                resolve();
              }
            },
            processError: async (err) => {
              clearTimeout(timer);
              reject(err);
            },
          },
          {
            startPosition: { sequenceNumber: from, isInclusive: true },
            maxBatchSize: 500,
            maxWaitTimeInSeconds: 1,
            skipParsingBodyAsJson: true,
          },
        );
      });
    } finally {
      await subscription?.close();
    }
    return out;
  };
}

function landingMessageOf(e: ReceivedEventData): LandingMessage {
  const body = e.body as unknown;
  return {
    body: Buffer.isBuffer(body) ? body : Buffer.from(body instanceof Uint8Array ? body : String(body)),
    sequenceNumber: e.sequenceNumber,
    enqueuedTimeMs: e.enqueuedTimeUtc.getTime(),
    properties: { ...(e.properties ?? {}) },
  };
}
