import type { TableClient } from '@azure/data-tables';
import { readBlockRange, type StateBlocks } from '../landing/blockIndex.js';

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
