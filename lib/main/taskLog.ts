import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { upsertInTransactions } from '../clients/tables.js';

/**
 * The task log: one entity per task main enqueued, partition = pipeline, row =
 * `<run>~<state>~<tenant>`, so a pipeline's history (live or one replay) is a range query and a
 * batch of entries is one table transaction.
 */
export const taskLogTable = 'tasklog';

export const TaskLogEntrySchema = z.object({
  taskId: z.string(),
  pipeline: z.string(),
  run: z.string(),
  stateId: z.string(),
  tenant: z.string(),
  blocks: z.number().int(),
  events: z.number().int(),
  bytes: z.number().int(),
  attempt: z.number().int(),
  enqueuedAt: z.string(),
});
export type TaskLogEntry = z.infer<typeof TaskLogEntrySchema>;

export const taskLogRowKey = (run: string, stateId: string, tenant: string) => `${run}~${stateId}~${tenant}`;

/** Row-key bounds of a run's entries for states `from`..`to` (inclusive): [low, high). */
function rowRange(run: string, from: string, to: string) {
  // `~` sorts after every tenant character, so `<to>~~` bounds every tenant of `to` (as in the block index).
  return { low: `${run}~${from}~`, high: `${run}~${to}~~` };
}

/** The attempt recorded for each task of a run in a range of states, keyed by row key. */
export async function readAttempts(
  table: TableClient,
  pipeline: string,
  run: string,
  from: string,
  to: string,
): Promise<Map<string, number>> {
  const { low, high } = rowRange(run, from, to);
  const filter = odata`PartitionKey eq ${pipeline} and RowKey ge ${low} and RowKey lt ${high}`;
  const out = new Map<string, number>();
  for await (const e of table.listEntities<{ attempt: number }>({
    queryOptions: { filter, select: ['RowKey', 'attempt'] },
  })) {
    out.set(e.rowKey!, Number(e.attempt));
  }
  return out;
}

/** Upserts entries in transactions of 100 per pipeline (the Table storage limit). */
export async function writeTaskLog(table: TableClient, entries: readonly TaskLogEntry[]): Promise<void> {
  await upsertInTransactions(
    table,
    entries.map((e) => ({
      partitionKey: e.pipeline,
      rowKey: taskLogRowKey(e.run, e.stateId, e.tenant),
      ...e,
    })),
  );
}

/** A run's entries in state order (then tenant). */
export async function listTaskLog(
  table: TableClient,
  pipeline: string,
  run: string,
  from = '000000000000',
  to = '999999999999',
): Promise<TaskLogEntry[]> {
  const { low, high } = rowRange(run, from, to);
  const filter = odata`PartitionKey eq ${pipeline} and RowKey ge ${low} and RowKey lt ${high}`;
  const out: TaskLogEntry[] = [];
  for await (const e of table.listEntities({ queryOptions: { filter } }))
    out.push(TaskLogEntrySchema.parse(e));
  return out;
}
