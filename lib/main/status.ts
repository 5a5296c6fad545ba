import type { TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';
import { describeError, isStatus } from '../clients/errors.js';
import type { Gap } from '../landing/gaps.js';
import type { Pipeline } from '../pipelines/pipeline.js';
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
import { listReplays, readControl } from './control.js';

export interface StatusDeps {
  pipelines: readonly Pipeline[];
  control: TableClient;
  taskLog: TableClient;
  /** Gaps landing recorded (sequence numbers Event Hubs no longer had). */
  gaps: () => Promise<Gap[]>;
  queueFor: (name: string) => QueueClient;
  watermark: () => Promise<Pick<GlobalWatermark, 'timeMs' | 'slowestPartition'>>;
  now: () => number;
  bufferMinutes: number;
}

async function messageCount(queue: QueueClient): Promise<number | null> {
  try {
    return (await queue.getProperties()).approximateMessagesCount ?? 0;
  } catch (err) {
    // A poison queue appears with its first parked message.
    if (isStatus(err, 404)) return 0;
    return null;
  }
}

/**
 * What an operator needs to see: the watermark; per pipeline the enqueued-through state (the
 * cursor), the completed-through state (every task at or before it done), the lag of each to the
 * last closed state, the tasks in flight and failed, back-offs, queue and poison-queue lengths;
 * and replay progress. A failing dependency shows as an error
 * field rather than failing the whole report.
 */
export async function pipelineStatus(deps: StatusDeps) {
  const nowMs = deps.now();
  const [control, replays, gaps, watermark] = await Promise.all([
    readControl(deps.control),
    listReplays(deps.control),
    deps.gaps().catch((err: unknown) => ({ error: describeError(err) })),
    deps.watermark().then(
      (w) => ({ ok: true as const, w }),
      (err: unknown) => ({ ok: false as const, error: describeError(err) }),
    ),
  ]);
  const lastClosed = watermark.ok ? lastClosedState(watermark.w, deps.bufferMinutes * 60_000) : undefined;
  const backoffView = (scope: string) => {
    const b = control.backoffs.get(scope);
    return b
      ? {
          active: isBackingOff(b, nowMs),
          failures: b.failures,
          retryAt: new Date(b.retryAtMs).toISOString(),
          since: new Date(b.sinceMs).toISOString(),
          reason: b.reason,
        }
      : null;
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
        backoff: backoffView(p.name),
        queueMessages: queued,
        poisonMessages: poisoned,
      };
    }),
  );
  return {
    now: new Date(nowMs).toISOString(),
    watermark: watermark.ok
      ? {
          time: new Date(watermark.w.timeMs).toISOString(),
          lastClosedState: lastClosed,
          slowestPartition: watermark.w.slowestPartition ?? null,
        }
      : { error: watermark.error },
    backoff: backoffView('main'),
    /** Events that can never land: lost before landing read them. Empty is the only good value. */
    gaps,
    pipelines,
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

export type PipelineStatus = Awaited<ReturnType<typeof pipelineStatus>>;
