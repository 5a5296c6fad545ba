import type { TableClient } from '@azure/data-tables';
import type { EventHubProducerClient } from '@azure/event-hubs';
import { type GlobalWatermark, globalWatermark, type PartitionProperties } from '../temporal/index.js';
import { readWatermarks } from './watermarks.js';

export interface ProgressDeps {
  landing: TableClient;
  eventHub: Pick<EventHubProducerClient, 'getPartitionIds' | 'getPartitionProperties' | 'eventHubName'>;
  now: () => number;
  /**
   * Enqueued times come from the Event Hubs service clock, "now" from ours: a caught-up partition
   * counts as now minus this margin, so a clock running ahead cannot close a minute that an event
   * is still being enqueued into.
   */
  clockSkewMs?: number;
}

export const defaultClockSkewMs = 5000;

/**
 * The global landing watermark right now: landed watermarks from Table storage against the live
 * partition properties from Event Hubs. `now` is read before the properties, so an event
 * enqueued before it is always visible in them.
 */
export async function currentWatermark(deps: ProgressDeps, signal?: AbortSignal): Promise<GlobalWatermark> {
  const nowMs = deps.now();
  // Watermarks are read alongside: read earlier, they can only be lower, which is safe.
  const [watermarks, partitions] = await Promise.all([
    readWatermarks(deps.landing, deps.eventHub.eventHubName),
    deps.eventHub.getPartitionIds({ abortSignal: signal }).then((ids) =>
      Promise.all(
        ids.map(async (id): Promise<PartitionProperties> => {
          const p = await deps.eventHub.getPartitionProperties(id, { abortSignal: signal });
          return {
            partitionId: p.partitionId,
            isEmpty: p.isEmpty,
            lastEnqueuedSequenceNumber: p.lastEnqueuedSequenceNumber,
            lastEnqueuedOnUtc: p.lastEnqueuedOnUtc,
          };
        }),
      ),
    ),
  ]);
  return globalWatermark(watermarks, partitions, nowMs - (deps.clockSkewMs ?? defaultClockSkewMs));
}
