import type { TableClient, TableEntity, TransactionAction } from '@azure/data-tables';
import { isStatus } from './errors.js';

type Keys = { partitionKey: string; rowKey: string };

/**
 * Runs `transaction` over `entities` grouped by partition key, at most 100 per transaction (the
 * Table storage limit). Waits for every transaction before rethrowing the first failure, so
 * nothing of a failed call is still in flight when the caller retries.
 */
async function inTransactions<T extends Keys>(
  entities: readonly T[],
  transaction: (slice: T[]) => Promise<unknown>,
): Promise<void> {
  const byPartition = new Map<string, T[]>();
  for (const e of entities) {
    const list = byPartition.get(e.partitionKey);
    if (list) list.push(e);
    else byPartition.set(e.partitionKey, [e]);
  }
  const transactions: Promise<unknown>[] = [];
  for (const list of byPartition.values()) {
    for (let i = 0; i < list.length; i += 100) transactions.push(transaction(list.slice(i, i + 100)));
  }
  const results = await Promise.allSettled(transactions);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Upserts entities (Replace by default, or Merge) in entity-group transactions. */
export function upsertInTransactions(
  table: TableClient,
  entities: readonly TableEntity[],
  mode: 'Replace' | 'Merge' = 'Replace',
): Promise<void> {
  return inTransactions(entities, (slice) =>
    table.submitTransaction(slice.map((e): TransactionAction => ['upsert', e, mode])),
  );
}

/** Deletes entities in entity-group transactions; one already gone is fine. */
export function deleteInTransactions(table: TableClient, keys: readonly Keys[]): Promise<void> {
  return inTransactions(keys, (slice) =>
    table
      .submitTransaction(slice.map((k): TransactionAction => ['delete', k]))
      // A transaction fails whole when one entity is already gone (a concurrent delete): then one by one.
      .catch(() =>
        Promise.all(
          slice.map((k) =>
            table.deleteEntity(k.partitionKey, k.rowKey).catch((err: unknown) => {
              if (!isStatus(err, 404)) throw err;
            }),
          ),
        ),
      ),
  );
}
