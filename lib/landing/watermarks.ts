import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import { z } from 'zod';
import type { PartitionWatermark } from '../temporal/index.js';
import { BlockIndexEntrySchema } from './blockIndex.js';

/**
 * Per-partition landing record in Table storage (partition key = event hub name, row key =
 * partition id): the landing watermark (last landed sequence number) and, while a batch is being
 * published, its claim. Both only change by ETag-conditional writes, so of two instances landing
 * the same partition exactly one claims each range of sequence numbers.
 */
export const landingTable = 'landing';

/**
 * What an attempt claimed: the messages up to `lastSequenceNumber`, and the files it publishes
 * for them (staged first under `attempt`, so whoever finds the claim can finish publishing it).
 */
export const ClaimSchema = z.object({
  attempt: z.string(),
  lastSequenceNumber: z.number().int(),
  lastEnqueuedTimeMs: z.number(),
  blocks: z.array(BlockIndexEntrySchema),
  /** The batch's dead-letter file, when some messages could not be landed. */
  deadLetter: z.string().nullable(),
});
export type Claim = z.infer<typeof ClaimSchema>;

export interface LandingRecord {
  partitionId: string;
  /** Last landed sequence number (-1: nothing landed yet). */
  sequenceNumber: number;
  enqueuedTimeMs: number;
  claim?: Claim;
  etag?: string;
}

const RecordEntitySchema = z.looseObject({
  rowKey: z.string(),
  sequenceNumber: z.number().int(),
  enqueuedTimeMs: z.number(),
  etag: z.string().optional(),
});

/** A table string property holds 32K UTF-16 characters; a claim is split across several. */
const chunkChars = 30_000;

export function toLandingRecord(entity: TableEntityResult<Record<string, unknown>>): LandingRecord {
  const e = RecordEntitySchema.parse(entity);
  let text = '';
  for (let i = 0; typeof entity[`claim${i}`] === 'string'; i++) text += entity[`claim${i}`];
  return {
    partitionId: e.rowKey,
    sequenceNumber: e.sequenceNumber,
    enqueuedTimeMs: e.enqueuedTimeMs,
    claim: text ? ClaimSchema.parse(JSON.parse(text)) : undefined,
    etag: e.etag,
  };
}

export function toLandingEntity(eventHubName: string, record: LandingRecord) {
  const text = record.claim ? JSON.stringify(record.claim) : '';
  const entity: Record<string, string | number> = {
    partitionKey: eventHubName,
    rowKey: record.partitionId,
    sequenceNumber: record.sequenceNumber,
    enqueuedTimeMs: record.enqueuedTimeMs,
  };
  for (let i = 0; i * chunkChars < text.length; i++)
    entity[`claim${i}`] = text.slice(i * chunkChars, (i + 1) * chunkChars);
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
  // Only the watermark columns: claims can be long and main reads this every run.
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
