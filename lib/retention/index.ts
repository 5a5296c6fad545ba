import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { isStatus } from '../clients/errors.js';
import { deleteInTransactions } from '../clients/tables.js';
import type { Lake } from '../lake/index.js';
import { idsPath } from '../landing/paths.js';
import { listReplays } from '../main/control.js';
import { replayRun } from '../pipelines/task.js';
import { runPool } from '../pool/index.js';
import { taskLogRange } from '../tasklog/index.js';
import { nextStateId, stateIdOf } from '../temporal/index.js';

/**
 * Retention of the raw zone and of what describes it: raw blocks, their id sidecars, their block
 * index entries and the task log rows of every run (live and replays) for states older than
 * `RAW_RETENTION_DAYS`, and the records of replays that ended before then. The cut-off moves by
 * whole hours, so a sweep runs once an hour (a few queries when nothing is due) and each call does
 * a bounded amount of work; the next call goes on where it stopped. Every step is idempotent: a
 * block is deleted before its index entry, so an interrupted sweep finds it again.
 */
export interface RetentionDeps {
  blockIndex: TableClient;
  taskLog: TableClient;
  /** Main's control table: replay records and the sweep marker live there. */
  control: TableClient;
  lake: Lake;
  pipelines: readonly { name: string }[];
  retentionDays: number;
  now: () => number;
  /** Block index entries (and task-log rows per run) one call handles at most. */
  limit?: number;
}

export interface RetentionResult {
  /** States older than this one are expired (the cut-off, an hour's first state). */
  cutoff: string;
  outcome: 'up-to-date' | 'swept' | 'more';
  blocks: number;
  taskRows: number;
  replays: number;
}

const markerKey = { partitionKey: 'retention', rowKey: 'sweep' } as const;
const MarkerSchema = z.object({ through: z.string() });
const dayMs = 86_400_000;
const firstState = '000000000000';

/** The first state of the hour `retentionDays` ago: everything before it is past retention. */
export function retentionCutoff(nowMs: number, retentionDays: number): string {
  return `${stateIdOf(nowMs - retentionDays * dayMs).slice(0, 10)}00`;
}

export async function expireRetained(deps: RetentionDeps): Promise<RetentionResult> {
  const limit = deps.limit ?? 2000;
  const cutoff = retentionCutoff(deps.now(), deps.retentionDays);
  const result: RetentionResult = { cutoff, outcome: 'up-to-date', blocks: 0, taskRows: 0, replays: 0 };
  const marker = await readMarker(deps.control);
  if (marker && marker >= cutoff) return result;

  // 1. Raw blocks and sidecars, then their index entries (state ids sort as time).
  let more = false;
  const entries: { partitionKey: string; rowKey: string; path: string }[] = [];
  const blocks = deps.blockIndex.listEntities<{ path: string }>({
    queryOptions: { filter: odata`PartitionKey lt ${cutoff}`, select: ['PartitionKey', 'RowKey', 'path'] },
  });
  for await (const e of blocks) {
    // One past the limit tells whether another call has work.
    if (entries.length === limit) {
      more = true;
      break;
    }
    entries.push({ partitionKey: e.partitionKey!, rowKey: e.rowKey!, path: e.path });
  }
  await runPool(entries, 16, async (e) => {
    await Promise.all([deps.lake.delete(e.path), deps.lake.delete(idsPath(e.path))]);
  });
  await deleteInTransactions(deps.blockIndex, entries);
  result.blocks = entries.length;

  // 2. Task-log rows of every run below the cut-off.
  const replays = await listReplays(deps.control, Number.POSITIVE_INFINITY);
  for (const pipeline of deps.pipelines) {
    const runs = ['live', ...replays.filter((r) => r.pipeline === pipeline.name).map((r) => replayRun(r.id))];
    for (const run of runs) {
      const rows: { partitionKey: string; rowKey: string }[] = [];
      const { low, high } = taskLogRange(run, firstState, nextStateId(cutoff, -1));
      const filter = odata`PartitionKey eq ${pipeline.name} and RowKey ge ${low} and RowKey lt ${high}`;
      for await (const e of deps.taskLog.listEntities({
        queryOptions: { filter, select: ['PartitionKey', 'RowKey'] },
      })) {
        if (rows.length === limit) {
          more = true;
          break;
        }
        rows.push({ partitionKey: e.partitionKey!, rowKey: e.rowKey! });
      }
      await deleteInTransactions(deps.taskLog, rows);
      result.taskRows += rows.length;
    }
  }

  // 3. Replays that ended and covered nothing still retained.
  if (!more) {
    const ended = replays.filter((r) => r.status === 'done' && r.to < cutoff);
    await deleteInTransactions(
      deps.control,
      ended.map((r) => ({ partitionKey: 'replay', rowKey: `${r.pipeline}~${r.id}` })),
    );
    result.replays = ended.length;
    await deps.control.upsertEntity({ ...markerKey, through: cutoff }, 'Replace');
  }
  result.outcome = more ? 'more' : 'swept';
  return result;
}

async function readMarker(control: TableClient): Promise<string | undefined> {
  try {
    return MarkerSchema.parse(await control.getEntity(markerKey.partitionKey, markerKey.rowKey)).through;
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}
