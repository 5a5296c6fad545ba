import type { TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';
import { isStatus } from '../clients/errors.js';
import type { Pipeline } from '../pipelines/pipeline.js';
import { type GlobalWatermark, lastClosedState, stateCount } from '../temporal/index.js';
import { isBackingOff } from './backoff.js';
import { listReplays, readControl } from './control.js';
import { describeError } from './errors.js';

export interface StatusDeps {
  pipelines: readonly Pipeline[];
  control: TableClient;
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
 * What an operator needs to see: the watermark, each pipeline's cursor and lag, back-offs,
 * queue and poison-queue lengths, and replay progress. A failing dependency shows as an error
 * field rather than failing the whole report.
 */
export async function pipelineStatus(deps: StatusDeps) {
  const nowMs = deps.now();
  const [control, replays, watermark] = await Promise.all([
    readControl(deps.control),
    listReplays(deps.control),
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
      const [queued, poisoned] = await Promise.all([
        messageCount(deps.queueFor(p.queue)),
        messageCount(deps.queueFor(p.poisonQueue)),
      ]);
      // Lag: closed states the pipeline has not enqueued yet.
      const lagStates = cursor && lastClosed ? stateCount(cursor.next, lastClosed) : null;
      return {
        name: p.name,
        queue: p.queue,
        cursor: cursor ? { next: cursor.next, updatedAt: cursor.updatedAt } : null,
        lagStates,
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
    pipelines,
    replays: replays.map(({ etag: _etag, ...r }) => {
      return { ...r, tenant: r.tenant || null, totalStates: stateCount(r.from, r.to) };
    }),
  };
}
export type PipelineStatus = Awaited<ReturnType<typeof pipelineStatus>>;
