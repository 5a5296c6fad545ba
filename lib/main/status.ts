import { odata, type TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import { describeError, isStatus } from '../clients/errors.js';
import { type Gap, GapSchema } from '../landing/gaps.js';
import type { Pipeline } from '../pipelines/pipeline.js';
import { type QualityReport, QualityReportSchema } from '../quality/report.js';
import { stateOfRowKey, taskLogRange } from '../tasklog/index.js';
import {
  type GlobalWatermark,
  lastClosedState,
  nextStateId,
  stateCount,
  stateIdOf,
  stateStartMs,
} from '../temporal/index.js';
import { isBackingOff } from './backoff.js';
import { completedThrough, openTasks } from './completion.js';
import { listReplays, ReplaySchema, readControl } from './control.js';

export interface StatusDeps {
  pipelines: readonly Pipeline[];
  control: TableClient;
  taskLog: TableClient;
  /** Gaps landing recorded (sequence numbers Event Hubs no longer had). */
  gaps: () => Promise<Gap[]>;
  queueFor: (name: string) => QueueClient;
  watermark: () => Promise<Pick<GlobalWatermark, 'timeMs' | 'slowestPartition'> & Partial<GlobalWatermark>>;
  now: () => number;
  bufferMinutes: number;
  /** Queues that belong to no pipeline (the alerts queue), shown with their -poison twins. */
  queues?: readonly string[];
  /** What ingest made of each tenant's telemetry in the last hour. */
  quality?: () => Promise<QualityReport>;
}

const Failed = z.object({ error: z.string() });
const BackoffViewSchema = z
  .object({
    active: z.boolean(),
    failures: z.number().int(),
    retryAt: z.string(),
    since: z.string(),
    reason: z.string(),
  })
  .nullable();
const TaskFailureSchema = z.object({
  taskId: z.string(),
  stateId: z.string(),
  tenant: z.string(),
  shard: z.number().int(),
  error: z.string(),
});

export const StatusReportSchema = z
  .object({
    now: z.string(),
    watermark: z.union([
      z.object({
        time: z.string(),
        lastClosedState: z.string(),
        slowestPartition: z.string().nullable(),
        /** Per Event Hubs partition: landed through when, and how far behind now. */
        partitions: z.array(
          z.object({
            partitionId: z.string(),
            caughtUp: z.boolean(),
            landedThrough: z.string().nullable(),
            lagSeconds: z.number().nullable(),
          }),
        ),
      }),
      Failed,
    ]),
    backoff: BackoffViewSchema,
    gaps: z.union([z.array(GapSchema), Failed]),
    pipelines: z.array(
      z.object({
        name: z.string(),
        queue: z.string(),
        cursor: z.object({ next: z.string(), updatedAt: z.string() }).nullable(),
        enqueuedThrough: z.string().nullable(),
        completedThrough: z.string().nullable(),
        lagStates: z.object({
          enqueued: z.number().int().nullable(),
          completed: z.number().int().nullable(),
        }),
        tasks: z
          .object({
            inFlight: z.number().int(),
            failed: z.number().int(),
            failures: z.array(TaskFailureSchema),
            truncated: z.boolean(),
          })
          .nullable(),
        /** Tasks whose last attempt ended in the last hour (see lastHourTasks). */
        lastHour: z.union([
          z.object({ done: z.number().int(), failed: z.number().int(), truncated: z.boolean() }),
          Failed,
        ]),
        backoff: BackoffViewSchema,
        queueMessages: z.number().int().nullable(),
        poisonMessages: z.number().int().nullable(),
      }),
    ),
    /** Queues outside the pipelines (alerts), with their poison twins. */
    queues: z.array(
      z.object({
        name: z.string(),
        messages: z.number().int().nullable(),
        poisonMessages: z.number().int().nullable(),
      }),
    ),
    quality: z.union([QualityReportSchema, Failed]).nullable(),
    /** The latest problems, newest first: task failures and back-off reasons. */
    lastErrors: z.array(z.object({ at: z.string(), source: z.string(), message: z.string() })),
    replays: z.array(
      ReplaySchema.omit({ tenant: true }).extend({
        tenant: z.string().nullable(),
        totalStates: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'Status' });
export type StatusReport = z.infer<typeof StatusReportSchema>;

async function messageCount(queue: QueueClient): Promise<number | null> {
  try {
    return (await queue.getProperties()).approximateMessagesCount ?? 0;
  } catch (err) {
    // A poison queue appears with its first parked message.
    if (isStatus(err, 404)) return 0;
    return null;
  }
}

const hourMs = 3_600_000;

/**
 * What an operator needs to see: the watermark and each partition's landing lag; per pipeline the
 * enqueued-through state (the cursor), the completed-through state (every task at or before it
 * done), the lag of each to the last closed state, the tasks in flight and failed, the tasks that
 * ended in the last hour, back-offs, queue and poison-queue lengths; the alerts queue; telemetry
 * quality per tenant; the latest errors; and replay progress. A failing dependency shows as an
 * error field rather than failing the whole report.
 */
export async function pipelineStatus(deps: StatusDeps): Promise<StatusReport> {
  const nowMs = deps.now();
  const failed = (err: unknown) => ({ error: describeError(err) });
  const [control, replays, gaps, watermark, quality, queues] = await Promise.all([
    readControl(deps.control),
    listReplays(deps.control),
    deps.gaps().catch(failed),
    deps.watermark().then(
      (w) => ({ ok: true as const, w }),
      (err: unknown) => ({ ok: false as const, error: describeError(err) }),
    ),
    deps.quality ? deps.quality().catch(failed) : null,
    Promise.all(
      (deps.queues ?? []).map(async (name) => ({
        name,
        messages: await messageCount(deps.queueFor(name)),
        poisonMessages: await messageCount(deps.queueFor(`${name}-poison`)),
      })),
    ),
  ]);
  const lastClosed = watermark.ok ? lastClosedState(watermark.w, deps.bufferMinutes * 60_000) : undefined;
  const errors: StatusReport['lastErrors'] = [];
  const backoffView = (scope: string) => {
    const b = control.backoffs.get(scope);
    if (!b) return null;
    const active = isBackingOff(b, nowMs);
    if (active)
      errors.push({ at: new Date(b.sinceMs).toISOString(), source: `backoff ${scope}`, message: b.reason });
    return {
      active,
      failures: b.failures,
      retryAt: new Date(b.retryAtMs).toISOString(),
      since: new Date(b.sinceMs).toISOString(),
      reason: b.reason,
    };
  };
  const pipelines = await Promise.all(
    deps.pipelines.map(async (p) => {
      const cursor = control.cursors.get(p.name);
      const [queued, poisoned, progress] = await Promise.all([
        messageCount(deps.queueFor(p.queue)),
        messageCount(deps.queueFor(p.poisonQueue)),
        cursor ? taskProgress(deps.taskLog, p.name, cursor.next, control.completed.get(p.name)) : undefined,
      ]);
      const enqueuedThrough = cursor ? previousState(cursor.next) : null;
      const lastHour =
        cursor && progress
          ? await lastHourTasks(
              deps.taskLog,
              p.name,
              progress.completedThrough,
              enqueuedThrough!,
              nowMs,
            ).catch(failed)
          : { done: 0, failed: 0, truncated: false, failures: [] };
      if ('failures' in lastHour)
        for (const f of lastHour.failures)
          errors.push({ at: f.at, source: `${p.name} ${f.taskId}`, message: f.error });
      // Lag: closed states not yet enqueued, and not yet completed.
      const lag = (through: string | null | undefined) =>
        through && lastClosed ? stateCount(nextStateId(through), lastClosed) : null;
      return {
        name: p.name,
        queue: p.queue,
        cursor: cursor ? { next: cursor.next, updatedAt: cursor.updatedAt } : null,
        enqueuedThrough,
        completedThrough: progress?.completedThrough ?? null,
        lagStates: { enqueued: lag(enqueuedThrough), completed: lag(progress?.completedThrough) },
        tasks: progress?.open ?? null,
        lastHour:
          'error' in lastHour
            ? lastHour
            : { done: lastHour.done, failed: lastHour.failed, truncated: lastHour.truncated },
        backoff: backoffView(p.name),
        queueMessages: queued,
        poisonMessages: poisoned,
      };
    }),
  );
  const mainBackoff = backoffView('main');
  return {
    now: new Date(nowMs).toISOString(),
    watermark: watermark.ok
      ? {
          time: new Date(watermark.w.timeMs).toISOString(),
          lastClosedState: lastClosed!,
          slowestPartition: watermark.w.slowestPartition ?? null,
          partitions: (watermark.w.partitions ?? []).map((p) => ({
            partitionId: p.partitionId,
            caughtUp: p.caughtUp,
            // Nothing landed yet on a partition with events: no time, and no lag to give.
            landedThrough: p.timeMs > 0 ? new Date(p.timeMs).toISOString() : null,
            lagSeconds: p.caughtUp
              ? 0
              : p.timeMs > 0
                ? Math.max(0, Math.round((nowMs - p.timeMs) / 1000))
                : null,
          })),
        }
      : { error: watermark.error },
    backoff: mainBackoff,
    /** Events that can never land: lost before landing read them. Empty is the only good value. */
    gaps,
    pipelines,
    queues,
    quality,
    lastErrors: errors.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)).slice(0, 10),
    replays: replays.map(({ etag: _etag, ...r }) => {
      return { ...r, tenant: r.tenant || null, totalStates: stateCount(r.from, r.to) };
    }),
  };
}
const previousState = (stateId: string) => stateIdOf(stateStartMs(stateId) - 60_000);

/** Completed-through as of now (main stores it each run; this reads what finished since) and the open tasks. */
async function taskProgress(
  taskLog: TableClient,
  pipeline: string,
  cursorNext: string,
  known: Parameters<typeof completedThrough>[3],
) {
  const through = await completedThrough(taskLog, pipeline, cursorNext, known);
  return { completedThrough: through, open: await openTasks(taskLog, pipeline, through, cursorNext) };
}

/**
 * Tasks of the live run whose last attempt ended in the hour before `nowMs`, done or failed, with
 * the failures. Read from the task log's states of the last two hours, or from the first state not
 * yet completed when that is earlier (a pipeline catching up), at most a day back; replays are
 * left out (their progress is listed on its own), and so are older states' tasks that ended within
 * the hour. Stops after `limit` rows (`truncated`).
 */
export async function lastHourTasks(
  taskLog: TableClient,
  pipeline: string,
  completed: string,
  enqueuedThrough: string,
  nowMs: number,
  limit = 20_000,
) {
  const since = new Date(nowMs - hourMs).toISOString();
  const recent = stateIdOf(nowMs - 2 * hourMs);
  const dayAgo = stateIdOf(nowMs - 24 * hourMs);
  const firstOpen = nextStateId(completed);
  // State ids compare as strings: the earlier of the two, but not before a day ago.
  const from = [dayAgo, [recent, firstOpen].sort()[0]!].sort()[1]!;
  const out = {
    done: 0,
    failed: 0,
    truncated: false,
    failures: [] as { at: string; taskId: string; error: string }[],
  };
  if (from > enqueuedThrough) return out;
  const { low, high } = taskLogRange('live', from, enqueuedThrough);
  const filter = odata`PartitionKey eq ${pipeline} and RowKey ge ${low} and RowKey lt ${high}`;
  let seen = 0;
  for await (const row of taskLog.listEntities<{
    status?: string;
    finishedAt?: string;
    taskId?: string;
    error?: string;
  }>({ queryOptions: { filter, select: ['RowKey', 'status', 'finishedAt', 'taskId', 'error'] } })) {
    if (++seen > limit) {
      out.truncated = true;
      break;
    }
    if (!row.finishedAt || row.finishedAt < since) continue;
    if (row.status === 'done') out.done++;
    else if (row.status === 'failed') {
      out.failed++;
      out.failures.push({
        at: row.finishedAt,
        taskId: row.taskId ?? stateOfRowKey(row.rowKey!),
        error: row.error ?? '',
      });
    }
  }
  out.failures = out.failures.sort((a, b) => (a.at < b.at ? 1 : -1)).slice(0, 10);
  return out;
}

export type PipelineStatus = StatusReport;
