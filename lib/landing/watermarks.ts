import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import { z } from 'zod';
import type { PartitionWatermark } from '../temporal/index.js';

/**
 * Per-partition landing record in Table storage (partition key = event hub name, row key =
 * partition id): the landing watermark, and the blocks of a batch being landed (written before
 * the blocks, cleared with the watermark), so a retried batch can remove what a crashed attempt
 * left behind and never land an event twice.
 */
export const landingTable = 'landing';

export const PendingBlockSchema = z.object({
  tenant: z.string(),
  stateId: z.string(),
  first: z.number().int(),
  last: z.number().int(),
});
export type PendingBlock = z.infer<typeof PendingBlockSchema>;

export interface LandingRecord {
  partitionId: string;
  /** Last landed sequence number (-1: nothing landed yet). */
  sequenceNumber: number;
  enqueuedTimeMs: number;
  pending: PendingBlock[];
  etag?: string;
}

const RecordEntitySchema = z.looseObject({
  rowKey: z.string(),
  sequenceNumber: z.number().int(),
  enqueuedTimeMs: z.number(),
  etag: z.string().optional(),
});

/** A table string property holds 32K UTF-16 characters; pending lists are split across several. */
const chunkChars = 30_000;

export function toLandingRecord(entity: TableEntityResult<Record<string, unknown>>): LandingRecord {
  const e = RecordEntitySchema.parse(entity);
  let text = '';
  for (let i = 0; typeof entity[`pending${i}`] === 'string'; i++) text += entity[`pending${i}`];
  const pending = text
    ? text.split('\n').map((line) => {
        const [tenant, stateId, first, last] = line.split('|');
        return PendingBlockSchema.parse({ tenant, stateId, first: Number(first), last: Number(last) });
      })
    : [];
  return {
    partitionId: e.rowKey,
    sequenceNumber: e.sequenceNumber,
    enqueuedTimeMs: e.enqueuedTimeMs,
    pending,
    etag: e.etag,
  };
}

export function toLandingEntity(eventHubName: string, record: LandingRecord) {
  const text = record.pending.map((p) => `${p.tenant}|${p.stateId}|${p.first}|${p.last}`).join('\n');
  const entity: Record<string, string | number> = {
    partitionKey: eventHubName,
    rowKey: record.partitionId,
    sequenceNumber: record.sequenceNumber,
    enqueuedTimeMs: record.enqueuedTimeMs,
  };
  for (let i = 0; i * chunkChars < text.length; i++)
    entity[`pending${i}`] = text.slice(i * chunkChars, (i + 1) * chunkChars);
  return entity as { partitionKey: string; rowKey: string } & Record<string, string | number>;
}

export async function readLandingRecords(table: TableClient, eventHubName: string): Promise<LandingRecord[]> {
  const out: LandingRecord[] = [];
  const filter = odata`PartitionKey eq ${eventHubName}`;
  for await (const entity of table.listEntities({ queryOptions: { filter } }))
    out.push(toLandingRecord(entity));
  return out;
}

export async function readWatermarks(
  table: TableClient,
  eventHubName: string,
): Promise<PartitionWatermark[]> {
  // Only the watermark columns: the pending lists can be long and main reads this every run.
  const out: PartitionWatermark[] = [];
  const filter = odata`PartitionKey eq ${eventHubName}`;
  const select = ['RowKey', 'sequenceNumber', 'enqueuedTimeMs'];
  for await (const e of table.listEntities<{ sequenceNumber: number; enqueuedTimeMs: number }>({
    queryOptions: { filter, select },
  })) {
    out.push({ partitionId: e.rowKey!, sequenceNumber: e.sequenceNumber, enqueuedTimeMs: e.enqueuedTimeMs });
  }
  return out;
}
