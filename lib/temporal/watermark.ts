import { z } from 'zod';
import { stateEndMs, stateIdOf, stateMs } from './state.js';

/** What landing has written for one Event Hubs partition. */
export const PartitionWatermarkSchema = z.object({
  partitionId: z.string(),
  /** Last landed sequence number (-1: nothing landed yet). */
  sequenceNumber: z.number().int(),
  /** Enqueued time of that event, epoch ms. */
  enqueuedTimeMs: z.number(),
});
export type PartitionWatermark = z.infer<typeof PartitionWatermarkSchema>;

/** The live state of one partition, from `getPartitionProperties`. */
export const PartitionPropertiesSchema = z.object({
  partitionId: z.string(),
  isEmpty: z.boolean(),
  lastEnqueuedSequenceNumber: z.number().int(),
  lastEnqueuedOnUtc: z.date().optional(),
});
export type PartitionProperties = z.infer<typeof PartitionPropertiesSchema>;

export interface GlobalWatermark {
  /** Everything enqueued strictly before this time (epoch ms) has landed in every partition. */
  timeMs: number;
  /** The partition holding the watermark back, when one is. */
  slowestPartition?: string;
  partitions: { partitionId: string; timeMs: number; caughtUp: boolean }[];
}

/**
 * The global landing watermark: the minimum over partitions of what each has landed. A
 * partition that has landed its last enqueued sequence number (or is empty) counts as `nowMs`,
 * the time its properties were read, so an idle partition never stalls the pipeline.
 * A partition that has events but no watermark yet holds the watermark at its beginning (0).
 */
export function globalWatermark(
  watermarks: readonly PartitionWatermark[],
  partitions: readonly PartitionProperties[],
  nowMs: number,
): GlobalWatermark {
  const byId = new Map(watermarks.map((w) => [w.partitionId, w]));
  const list = partitions.map((p) => {
    const w = byId.get(p.partitionId);
    const caughtUp = p.isEmpty || (w !== undefined && w.sequenceNumber >= p.lastEnqueuedSequenceNumber);
    // Everything enqueued before enqueuedTimeMs has landed (a later event at the same millisecond
    // may not have: closed therefore means state end <= this time, never <).
    const timeMs = caughtUp ? nowMs : w ? w.enqueuedTimeMs : 0;
    return { partitionId: p.partitionId, timeMs, caughtUp };
  });
  if (list.length === 0) return { timeMs: 0, partitions: [] };
  let slowest = list[0]!;
  for (const p of list) if (p.timeMs < slowest.timeMs) slowest = p;
  return {
    timeMs: slowest.timeMs,
    slowestPartition: slowest.caughtUp ? undefined : slowest.partitionId,
    partitions: list,
  };
}

/** A state is closed when everything enqueued before its end has landed. */
export function isStateClosed(stateId: string, watermark: Pick<GlobalWatermark, 'timeMs'>): boolean {
  return stateEndMs(stateId) <= watermark.timeMs;
}

/**
 * The last state that is closed at `watermark` and at least `bufferMs` behind it (a state is
 * closed when its end is at or before the watermark), as a state id; compare ids as strings.
 */
export function lastClosedState(watermark: Pick<GlobalWatermark, 'timeMs'>, bufferMs = 0): string {
  return stateIdOf(watermark.timeMs - bufferMs - stateMs);
}
