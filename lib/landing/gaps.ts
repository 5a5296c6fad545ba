import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';

/**
 * Sequence numbers landing found missing and could not read again from Event Hubs (gone past
 * its retention): recorded in the landing table (partition `<hub>~gaps`, row
 * `<partition>~<first>`) so the status endpoint shows what was lost instead of hiding it.
 */
export const GapSchema = z.object({
  partitionId: z.string(),
  /** First and last missing sequence numbers (inclusive). */
  first: z.number().int(),
  last: z.number().int(),
  detectedAt: z.string(),
  reason: z.string(),
});
export type Gap = z.infer<typeof GapSchema>;

const gapsPartition = (eventHubName: string) => `${eventHubName}~gaps`;

export async function recordGap(table: TableClient, eventHubName: string, gap: Gap): Promise<void> {
  await table.upsertEntity(
    {
      partitionKey: gapsPartition(eventHubName),
      rowKey: `${gap.partitionId}~${String(gap.first).padStart(20, '0')}`,
      ...gap,
    },
    'Replace',
  );
}

export async function listGaps(table: TableClient, eventHubName: string, limit = 100): Promise<Gap[]> {
  const out: Gap[] = [];
  const filter = odata`PartitionKey eq ${gapsPartition(eventHubName)}`;
  for await (const e of table.listEntities({ queryOptions: { filter } })) {
    out.push(GapSchema.parse(e));
    if (out.length >= limit) break;
  }
  return out;
}
