import type { TableClient } from '@azure/data-tables';
import { shardBlocks } from '../pipelines/shards.js';
import { encodeTask, type Run, type TaskMessage, taskIdOf } from '../pipelines/task.js';
import { readAttempts, type TaskLogEntry, taskLogRowKey, writeTaskLog } from '../tasklog/index.js';
import { earlierState, nextStateId, stateRange } from '../temporal/index.js';
import type { BlockRangeCache } from './blocks.js';
import type { TaskSender } from './sender.js';

/** What one walk enqueues for: a pipeline's live cursor, or one replay (optionally of one tenant). */
export interface WalkTarget {
  pipeline: string;
  queue: string;
  run: Run;
  tenant?: string;
}

export interface WalkDeps {
  blocks: BlockRangeCache;
  taskLog: TableClient;
  sender: TaskSender;
  batchStates: number;
  /** Uncompressed bytes of raw blocks one task may cover (MAIN_TASK_MAX_BYTES). */
  taskMaxBytes: number;
  now: () => number;
  /** Checked before each batch: the time budget is spent or the lease is lost. */
  shouldStop: () => boolean;
  log: (message: string) => void;
}

export interface WalkResult {
  states: number;
  tasks: number;
  emptyStates: number;
  /** The next state to process (the cursor after the walk). */
  next: string;
  finished: boolean;
}

/**
 * Walks states `from`..`to` (inclusive; all closed) in batches: one block-index range query per
 * batch (the next batch is read while this one is sent), one task message per shard of each
 * (state, tenant) with blocks (`shardBlocks`: at most `taskMaxBytes` each), sent state after state (the tenants of a state concurrently), then the task-log
 * entries, then `advance` moves the cursor past the batch. A crash before `advance` re-sends the
 * batch with the same task ids (and a higher `attempt`).
 */
export async function walkStates(
  deps: WalkDeps,
  target: WalkTarget,
  from: string,
  to: string,
  advance: (next: string, batch: { states: number; tasks: number }) => Promise<void>,
): Promise<WalkResult> {
  const result: WalkResult = { states: 0, tasks: 0, emptyStates: 0, next: from, finished: from > to };
  const batchEnd = (start: string) => {
    return earlierState(nextStateId(start, deps.batchStates - 1), to);
  };
  let start = from;
  let pending = deps.blocks.get(start, batchEnd(start), target.tenant);
  let tail: Promise<unknown> = Promise.resolve();
  let failure: { err: unknown } | undefined;
  while (start <= to && !deps.shouldStop() && !failure) {
    const end = batchEnd(start);
    const following = nextStateId(end);
    const [blocks, attempts] = await Promise.all([
      pending,
      readAttempts(deps.taskLog, target.pipeline, target.run, start, end),
    ]);
    if (following <= to) pending = deps.blocks.get(following, batchEnd(following), target.tenant);

    const tasks: TaskMessage[] = [];
    let empty = 0;
    const states = stateRange(start, end);
    for (const stateId of states) {
      const tenants = blocks.get(stateId);
      if (!tenants?.size) {
        empty++;
        continue;
      }
      for (const [tenant, list] of tenants) {
        const shards = shardBlocks(list, deps.taskMaxBytes);
        shards.forEach((blocks, shard) => {
          const rowKey = taskLogRowKey(target.run, stateId, tenant, shard);
          tasks.push({
            taskId: taskIdOf(target.pipeline, target.run, stateId, tenant, shard),
            pipeline: target.pipeline,
            run: target.run,
            stateId,
            tenant,
            shard,
            shards: shards.length,
            shardMaxBytes: deps.taskMaxBytes,
            attempt: (attempts.get(rowKey) ?? 0) + 1,
            blockCount: blocks.length,
            events: blocks.reduce((n, b) => n + b.events, 0),
            bytes: blocks.reduce((n, b) => n + b.bytes, 0),
            blocksInMessage: true,
            blocks,
          });
        });
      }
    }

    const byState = new Map<string, string[]>();
    for (const t of tasks) {
      const list = byState.get(t.stateId);
      if (list) list.push(encodeTask(t));
      else byState.set(t.stateId, [encodeTask(t)]);
    }
    await deps.sender.sendInOrder(target.queue, [...byState.values()]);
    const enqueuedAt = new Date(deps.now()).toISOString();
    const logged = writeTaskLog(
      deps.taskLog,
      tasks.map(
        (t): TaskLogEntry => ({
          taskId: t.taskId,
          pipeline: t.pipeline,
          run: t.run,
          stateId: t.stateId,
          tenant: t.tenant,
          shard: t.shard,
          shards: t.shards,
          blocks: t.blockCount,
          events: t.events,
          bytes: t.bytes,
          attempt: t.attempt,
          enqueuedAt,
        }),
      ),
    );
    // The task log and cursor of this batch are written while the next batch is sent; the cursor
    // only ever moves past a batch whose messages and log entries (and every earlier one's) are in.
    const batch = { start, end, states: states.length, tasks: tasks.length, empty };
    tail = Promise.all([tail, logged]).then(async () => {
      await advance(nextStateId(batch.end), { states: batch.states, tasks: batch.tasks });
      result.states += batch.states;
      result.tasks += batch.tasks;
      result.emptyStates += batch.empty;
      result.next = nextStateId(batch.end);
      deps.log(
        `${target.pipeline} ${target.run}${target.tenant ? ` (tenant ${target.tenant})` : ''}: ` +
          `states ${batch.start}..${batch.end}: ${batch.tasks} tasks enqueued` +
          (batch.empty ? `, ${batch.empty} state${batch.empty === 1 ? '' : 's'} without blocks skipped` : ''),
      );
    });
    tail.catch((err: unknown) => {
      failure ??= { err };
    });
    start = following;
  }
  // A prefetch nobody will use must not surface as an unhandled rejection.
  pending.catch(() => {});
  await tail;
  result.finished = result.next > to;
  return result;
}
