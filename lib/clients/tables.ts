import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';

/**
 * Upserts entities (Replace by default, or Merge) in entity-group transactions: grouped by
 * partition key, at most 100 per transaction (the Table storage limit). Waits for every transaction before rethrowing the
 * first failure, so nothing of a failed call is still in flight when the caller retries.
 */
export async function upsertInTransactions(
  table: TableClient,
  entities: readonly TableEntity[],
  mode: 'Replace' | 'Merge' = 'Replace',
): Promise<void> {
  const byPartition = new Map<string, TableEntity[]>();
  for (const e of entities) {
    const list = byPartition.get(e.partitionKey);
    if (list) list.push(e);
    else byPartition.set(e.partitionKey, [e]);
  }
  const transactions: Promise<unknown>[] = [];
  for (const list of byPartition.values()) {
    for (let i = 0; i < list.length; i += 100) {
      const actions: TransactionAction[] = list.slice(i, i + 100).map((e) => ['upsert', e, mode]);
      transactions.push(table.submitTransaction(actions));
    }
  }
  const results = await Promise.allSettled(transactions);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
