import { odata, type TableClient } from '@azure/data-tables';
import { stateOfRowKey, taskLogRange } from '../tasklog/index.js';
import { nextStateId, stateIdOf, stateStartMs } from '../temporal/index.js';
import type { Completed } from './control.js';

const previousState = (stateId: string) => stateIdOf(stateStartMs(stateId) - 60_000);

/**
 * How far a pipeline's live run is complete: the last state such that every task at or before it
 * is done. States without tasks count as done once the cursor is past them. Reads the task log
 * from the last known completed-through state in row order and stops at the first task not done,
 * so a run reads only what changed since (plus whatever is still in flight).
 */
export async function completedThrough(
  taskLog: TableClient,
  pipeline: string,
  cursorNext: string,
  known: Completed | undefined,
): Promise<string> {
  const enqueuedThrough = previousState(cursorNext);
  const from = known ? nextStateId(known.through) : '000000000000';
  if (known && known.through >= enqueuedThrough) return known.through;
  const { low, high } = taskLogRange('live', from, enqueuedThrough);
  const filter = odata`PartitionKey eq ${pipeline} and RowKey ge ${low} and RowKey lt ${high}`;
  for await (const row of taskLog.listEntities<{ status?: string }>({
    queryOptions: { filter, select: ['RowKey', 'status'] },
  })) {
    // Rows come in state order and start after `known`, so this never moves backwards.
    if (row.status !== 'done') return previousState(stateOfRowKey(row.rowKey!));
  }
  return enqueuedThrough;
}

export interface OpenTasks {
  /** Enqueued, no attempt finished yet. */
  inFlight: number;
  /** The last attempt failed (the queue retries it, or it is in the poison queue). */
  failed: number;
  /** The first few failures, for the status page. */
  failures: { taskId: string; stateId: string; tenant: string; shard: number; error: string }[];
  /** Stopped reading after `limit` rows (the counts are then lower bounds). */
  truncated: boolean;
}

/** The tasks after `completed` up to the cursor that are not done. */
export async function openTasks(
  taskLog: TableClient,
  pipeline: string,
  completed: string,
  cursorNext: string,
  limit = 20_000,
): Promise<OpenTasks> {
  const out: OpenTasks = { inFlight: 0, failed: 0, failures: [], truncated: false };
  const to = previousState(cursorNext);
  if (to <= completed) return out;
  const { low, high } = taskLogRange('live', nextStateId(completed), to);
  // Not `status ne 'done'` in the filter: Table storage drops rows that lack the property.
  const filter = odata`PartitionKey eq ${pipeline} and RowKey ge ${low} and RowKey lt ${high}`;
  let seen = 0;
  for await (const row of taskLog.listEntities<{
    status?: string;
    taskId?: string;
    stateId?: string;
    tenant?: string;
    shard?: number;
    error?: string;
  }>({
    queryOptions: { filter, select: ['RowKey', 'status', 'taskId', 'stateId', 'tenant', 'shard', 'error'] },
  })) {
    if (++seen > limit) {
      out.truncated = true;
      break;
    }
    if (row.status === 'done') continue;
    if (row.status === 'failed') {
      out.failed++;
      if (out.failures.length < 10)
        out.failures.push({
          taskId: row.taskId ?? '',
          stateId: row.stateId ?? stateOfRowKey(row.rowKey!),
          tenant: row.tenant ?? '',
          shard: Number(row.shard ?? 0),
          error: row.error ?? '',
        });
    } else {
      out.inFlight++;
    }
  }
  return out;
}
