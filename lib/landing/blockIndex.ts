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
  /** Compressed size of the block. */
  bytes: z.number().int(),
  /** Uncompressed NDJSON size (absent on entries written before it was recorded). */
  rawBytes: z.number().int().optional(),
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

/** The blocks of a range of states: state id → tenant → blocks (tenants and blocks sorted). */
export type StateBlocks = Map<string, Map<string, Omit<BlockIndexEntry, 'stateId' | 'tenant'>[]>>;

const columns = ['PartitionKey', ...Object.keys(BlockIndexEntrySchema.shape)];

/**
 * Every block of states `from`..`to` (inclusive), optionally of one tenant, in one range query
 * over the block index's partitions (state ids sort as time), rather than one query per state.
 */
export async function readBlockRange(
  table: TableClient,
  from: string,
  to: string,
  tenant?: string,
): Promise<StateBlocks> {
  const filter = tenant
    ? odata`PartitionKey ge ${from} and PartitionKey le ${to} and RowKey ge ${`${tenant}~`} and RowKey lt ${`${tenant}~~`}`
    : odata`PartitionKey ge ${from} and PartitionKey le ${to}`;
  const out: StateBlocks = new Map();
  for await (const entity of table.listEntities({ queryOptions: { filter, select: columns } })) {
    const e = BlockIndexEntrySchema.parse(entity);
    const tenants = out.get(e.stateId) ?? new Map();
    out.set(e.stateId, tenants);
    const { stateId: _state, tenant, ...ref } = e;
    const list = tenants.get(tenant) ?? [];
    list.push(ref);
    tenants.set(tenant, list);
  }
  // The service returns key order already; sorting makes task order independent of it.
  for (const [stateId, tenants] of out) {
    const sorted = [...tenants.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, list] of sorted) list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    out.set(stateId, new Map(sorted));
  }
  return out;
}
