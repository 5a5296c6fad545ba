import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { upsertInTransactions } from '../clients/tables.js';

/**
 * The task log: one entity per task main enqueued, partition = pipeline, row =
 * `<run>~<state>~<tenant>~<shard>`, so a pipeline's history (live or one replay) is a range query
 * in state order and a batch of entries is one table transaction. Main writes what it enqueued;
 * the worker merges in how the task ended (`TaskOutcome`). Both write with Merge, so neither
 * erases the other whichever comes first.
 */
export const taskLogTable = 'tasklog';

export const TaskOutcomeSchema = z.object({
  status: z.enum(['done', 'failed']),
  finishedAt: z.string(),
  durationMs: z.number().int(),
  /** The queue's dequeue count of the attempt that wrote this outcome. */
  dequeueCount: z.number().int(),
  /** What the worker counted (done), by name: events read, written, duplicates, bad lines … */
  stats: z.string().optional(),
  /** `<code>: <message>` of a failed attempt. */
  error: z.string().optional(),
});
export type TaskOutcome = z.infer<typeof TaskOutcomeSchema>;

export const TaskLogEntrySchema = z.object({
  taskId: z.string(),
  pipeline: z.string(),
  run: z.string(),
  stateId: z.string(),
  tenant: z.string(),
  shard: z.number().int(),
  shards: z.number().int(),
  blocks: z.number().int(),
  events: z.number().int(),
  bytes: z.number().int(),
  attempt: z.number().int(),
  enqueuedAt: z.string(),
});
export type TaskLogEntry = z.infer<typeof TaskLogEntrySchema>;

/** A row as read back: what main enqueued and, once a worker finished an attempt, its outcome. */
export const TaskLogRowSchema = TaskLogEntrySchema.extend(TaskOutcomeSchema.partial().shape);
export type TaskLogRow = z.infer<typeof TaskLogRowSchema>;

/** Shards sort as numbers within a (state, tenant): zero-padded. */
export const taskLogRowKey = (run: string, stateId: string, tenant: string, shard: number) =>
  `${run}~${stateId}~${tenant}~${String(shard).padStart(4, '0')}`;

/** The state of a task-log row key (`<run>~<state>~…`). */
export const stateOfRowKey = (rowKey: string) => rowKey.split('~')[1]!;

/** Row-key bounds of a run's entries for states `from`..`to` (inclusive): [low, high). */
export function taskLogRange(run: string, from: string, to: string) {
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
  const { low, high } = taskLogRange(run, from, to);
  const filter = odata`PartitionKey eq ${pipeline} and RowKey ge ${low} and RowKey lt ${high}`;
  const out = new Map<string, number>();
  for await (const e of table.listEntities<{ attempt?: number }>({
    queryOptions: { filter, select: ['RowKey', 'attempt'] },
  })) {
    if (e.attempt !== undefined) out.set(e.rowKey!, Number(e.attempt));
  }
  return out;
}

/** Merges main's entries in transactions of 100 per pipeline (the Table storage limit). */
export async function writeTaskLog(table: TableClient, entries: readonly TaskLogEntry[]): Promise<void> {
  await upsertInTransactions(
    table,
    entries.map((e) => ({
      partitionKey: e.pipeline,
      rowKey: taskLogRowKey(e.run, e.stateId, e.tenant, e.shard),
      ...e,
    })),
    'Merge',
  );
}

/** Records how an attempt of a task ended (the worker's side of the row). */
export async function recordOutcome(
  table: TableClient,
  task: { pipeline: string; run: string; stateId: string; tenant: string; shard: number },
  outcome: TaskOutcome,
): Promise<void> {
  await table.upsertEntity(
    {
      partitionKey: task.pipeline,
      rowKey: taskLogRowKey(task.run, task.stateId, task.tenant, task.shard),
      ...outcome,
      // A done attempt clears the error of an earlier failed one.
      error: outcome.error ?? '',
    },
    'Merge',
  );
}

/** A run's rows in state order (then tenant, then shard). */
export async function listTaskLog(
  table: TableClient,
  pipeline: string,
  run: string,
  from = '000000000000',
  to = '999999999999',
): Promise<TaskLogRow[]> {
  const { low, high } = taskLogRange(run, from, to);
  const filter = odata`PartitionKey eq ${pipeline} and RowKey ge ${low} and RowKey lt ${high}`;
  const out: TaskLogRow[] = [];
  for await (const e of table.listEntities({ queryOptions: { filter } })) {
    const { error, stats, ...rest } = e as Record<string, unknown>;
    out.push(TaskLogRowSchema.parse({ ...rest, error: error || undefined, stats: stats || undefined }));
  }
  return out;
}
