import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';

/**
 * The block index: one entity per raw block, partition key = temporal state id, row key =
 * `<tenant>~<block file name>`, so the blocks of a state are one partition query.
 */
export const BlockIndexEntrySchema = z.object({
  stateId: z.string(),
  tenant: z.string(),
  /** Path in the lake file system. */
  path: z.string(),
  partition: z.string(),
  firstSequenceNumber: z.number().int(),
  lastSequenceNumber: z.number().int(),
  events: z.number().int(),
  bytes: z.number().int(),
});
export type BlockIndexEntry = z.infer<typeof BlockIndexEntrySchema>;

export const blockIndexTable = 'blockindex';

export function blockRowKey(entry: Pick<BlockIndexEntry, 'tenant' | 'path'>): string {
  return `${entry.tenant}~${entry.path.slice(entry.path.lastIndexOf('/') + 1)}`;
}

export function toBlockEntity(entry: BlockIndexEntry) {
  return { partitionKey: entry.stateId, rowKey: blockRowKey(entry), ...entry };
}

/** Every block of a state (optionally of one tenant), ordered by tenant then block name. */
export async function listBlocks(
  table: TableClient,
  stateId: string,
  tenant?: string,
): Promise<BlockIndexEntry[]> {
  const filter = tenant
    ? odata`PartitionKey eq ${stateId} and RowKey ge ${`${tenant}~`} and RowKey lt ${`${tenant}~~`}`
    : odata`PartitionKey eq ${stateId}`;
  const out: BlockIndexEntry[] = [];
  for await (const entity of table.listEntities({ queryOptions: { filter } })) {
    out.push(BlockIndexEntrySchema.parse(entity));
  }
  return out;
}

/** The oldest state id in the index (partition keys sort as time), or undefined when empty. */
export async function oldestIndexedState(table: TableClient): Promise<string | undefined> {
  // Azure Table storage may answer a scan with empty pages and a continuation token: read on
  // until the first entity (or the end), never conclude "empty" from one page.
  const pages = table.listEntities({ queryOptions: { select: ['PartitionKey'] } }).byPage({ maxPageSize: 1 });
  for await (const page of pages) {
    const first = page[0];
    if (first) return first.partitionKey as string;
  }
  return undefined;
}
