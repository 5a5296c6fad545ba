import { z } from 'zod';
import type { LandingBatch } from './land.js';

/** The trigger metadata of an Event Hub trigger with `cardinality: 'many'`, as far as landing reads it. */
export const EventHubBatchMetadataSchema = z.object({
  partitionContext: z.object({ partitionId: z.string() }),
  enqueuedTimeUtcArray: z.array(z.union([z.string(), z.date()])),
  sequenceNumberArray: z.array(z.coerce.number().int()),
  propertiesArray: z.array(z.record(z.string(), z.unknown()).nullable()).optional(),
});
export type EventHubBatchMetadata = z.infer<typeof EventHubBatchMetadataSchema>;

/** Pairs each message body with its sequence number, enqueued time and properties. */
export function toLandingBatch(messages: unknown[], metadata: EventHubBatchMetadata): LandingBatch {
  const m = EventHubBatchMetadataSchema.parse(metadata);
  if (m.sequenceNumberArray.length !== messages.length || m.enqueuedTimeUtcArray.length !== messages.length) {
    throw new Error(
      `Event Hub trigger metadata describes ${m.sequenceNumberArray.length} events but the batch has ${messages.length}`,
    );
  }
  return {
    partitionId: m.partitionContext.partitionId,
    messages: messages.map((body, i) => ({
      body: Buffer.isBuffer(body)
        ? body
        : body instanceof Uint8Array
          ? Buffer.from(body.buffer, body.byteOffset, body.byteLength)
          : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
      sequenceNumber: m.sequenceNumberArray[i]!,
      enqueuedTimeMs: new Date(m.enqueuedTimeUtcArray[i]!).getTime(),
      properties: m.propertiesArray?.[i] ?? {},
    })),
  };
}
