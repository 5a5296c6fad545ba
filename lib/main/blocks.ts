import { odata, type TableClient } from '@azure/data-tables';
import { BlockIndexEntrySchema } from '../landing/blockIndex.js';
import type { BlockRef } from '../pipelines/task.js';

/** The blocks of a range of states: state id → tenant → blocks (tenants and blocks sorted). */
export type StateBlocks = Map<string, Map<string, BlockRef[]>>;

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
    const tenants = out.get(e.stateId) ?? new Map<string, BlockRef[]>();
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

/**
 * Shares block-range reads between the pipelines of one run: pipelines at the same cursor read
 * the same ranges, so each range is read once. Keeps only the most recent ranges.
 */
export class BlockRangeCache {
  private readonly ranges = new Map<string, Promise<StateBlocks>>();
  constructor(
    private readonly table: TableClient,
    private readonly keep = 8,
  ) {}

  get(from: string, to: string, tenant?: string): Promise<StateBlocks> {
    const key = `${from}|${to}|${tenant ?? ''}`;
    let hit = this.ranges.get(key);
    if (!hit) {
      hit = readBlockRange(this.table, from, to, tenant);
      // A failed read must not be served to the next caller.
      hit.catch(() => this.ranges.delete(key));
      this.ranges.set(key, hit);
      if (this.ranges.size > this.keep) this.ranges.delete(this.ranges.keys().next().value!);
    }
    return hit;
  }
}
