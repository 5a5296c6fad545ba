import type { TableClient } from '@azure/data-tables';
import type { InvocationContext } from '@azure/functions';
import { describeError } from '../clients/errors.js';
import { recordOutcome } from '../tasklog/index.js';
import type { Pipeline } from './pipeline.js';
import { decodeTask, type TaskMessage } from './task.js';

/** What a worker counted for one task (events read, written, duplicates …), by name. */
export type TaskStats = Record<string, number>;

/** What a pipeline's worker does with one task; it must be idempotent (tasks can arrive twice). */
export type TaskWork = (task: TaskMessage, context: InvocationContext) => Promise<TaskStats>;

export interface WorkerDeps {
  taskLog: TableClient;
  now?: () => number;
}

/**
 * Runs one queue message of a pipeline's worker: validates the task, runs the work, and records
 * in the task log how it ended (done with its counts, or failed with the error). A failure is
 * rethrown, so the host retries the message and then parks it in the poison queue, where the
 * status endpoint shows it; a message that is not a task fails the same way.
 */
export async function runTask(
  pipeline: Pipeline,
  message: unknown,
  context: InvocationContext,
  deps: WorkerDeps,
  work: TaskWork,
): Promise<TaskStats> {
  const task = decodeTask(message);
  if (task.pipeline !== pipeline.name) {
    throw new Error(`task ${task.taskId} is for pipeline '${task.pipeline}', not '${pipeline.name}'`);
  }
  const now = deps.now ?? Date.now;
  const started = now();
  const dequeueCount = Number((context.triggerMetadata as { dequeueCount?: unknown })?.dequeueCount ?? 1);
  const outcome = (status: 'done' | 'failed') => ({
    status,
    finishedAt: new Date(now()).toISOString(),
    durationMs: Math.round(now() - started),
    dequeueCount,
  });
  let stats: TaskStats;
  try {
    stats = await work(task, context);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const error = `${typeof code === 'string' ? code : 'TASK_FAILED'}: ${describeError(err)}`;
    context.error(`${pipeline.name} task ${task.taskId} failed (attempt ${dequeueCount}): ${error}`);
    await recordOutcome(deps.taskLog, task, { ...outcome('failed'), error }).catch((logErr) =>
      context.error(`could not record the failure of ${task.taskId}: ${describeError(logErr)}`),
    );
    throw err;
  }
  // Not best effort: completed-through must not move on a task whose outcome was not recorded,
  // and a rerun of the (idempotent) work is the price of a failed write here.
  await recordOutcome(deps.taskLog, task, { ...outcome('done'), stats: JSON.stringify(stats) });
  return stats;
}
