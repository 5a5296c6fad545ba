import type { TableClient } from '@azure/data-tables';
import { TtlCache } from './ttl-cache.js';

/**
 * Users and devices that opted out, per tenant, stored as pseudonyms only (so the list itself
 * holds no raw identifiers). Ingest compares them with the pseudonyms of each event's ids.
 */
export class OptOutStore {
  private readonly cache: TtlCache<ReadonlySet<string>>;

  constructor(
    private readonly table: TableClient,
    cacheSeconds: number,
    clock: () => number = Date.now,
  ) {
    this.cache = new TtlCache(cacheSeconds * 1000, clock);
  }

  async add(tenant: string, pseudonym: string): Promise<void> {
    await this.table.upsertEntity({ partitionKey: tenant, rowKey: pseudonym }, 'Replace');
    this.cache.delete(tenant);
  }

  list(tenant: string): Promise<ReadonlySet<string>> {
    return this.cache.get(tenant, async () => {
      const set = new Set<string>();
      const rows = this.table.listEntities({
        queryOptions: { filter: `PartitionKey eq '${tenant.replaceAll("'", "''")}'`, select: ['rowKey'] },
      });
      for await (const row of rows) set.add(row.rowKey!);
      return set;
    });
  }
}
