import type { TableClient } from '@azure/data-tables';
import type { QueueClient } from '@azure/storage-queue';
import { describeError } from '../clients/errors.js';
import { oldestIndexedState } from '../landing/blockIndex.js';
import type { Pipeline } from '../pipelines/pipeline.js';
import { replayRun } from '../pipelines/task.js';
import { earlierState, type GlobalWatermark, lastClosedState, stateIdOf } from '../temporal/index.js';
import { type Backoff, isBackingOff, nextBackoff } from './backoff.js';
import { BlockRangeCache } from './blocks.js';
import { completedThrough } from './completion.js';
import {
  advanceCursor,
  type Control,
  type Cursor,
  clearBackoff,
  createCursor,
  type Replay,
  readControl,
  saveBackoff,
  saveCompleted,
  updateReplay,
} from './control.js';
import { MainError } from './errors.js';
import type { RunLease } from './lease.js';
import { TaskSender } from './sender.js';
import { type WalkDeps, type WalkResult, walkStates } from './walk.js';

export interface MainLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface MainSettings {
  budgetMs: number;
  bufferMinutes: number;
  /** First state of a pipeline without a cursor; default: the oldest state in the block index. */
  startTime?: string;
  backoffMaxMs: number;
  batchStates: number;
  sendConcurrency: number;
  /** Uncompressed bytes of raw blocks one task may cover; larger (state, tenant)s are sharded. */
  taskMaxBytes: number;
}

/** Everything a main run touches, passed in so tests can use fakes, fault injection and a fake clock. */
export interface MainDeps {
  pipelines: readonly Pipeline[];
  control: TableClient;
  taskLog: TableClient;
  blockIndex: TableClient;
  queueFor: (name: string) => QueueClient;
  watermark: () => Promise<Pick<GlobalWatermark, 'timeMs' | 'slowestPartition'>>;
  /** Only one run at a time: resolves undefined when another run holds the guard. */
  acquireLease?: () => Promise<RunLease | undefined>;
  /** Wall clock (epoch ms): states, watermarks, back-off. */
  now: () => number;
  /** Monotonic clock (ms) for the time budget; default `performance.now`. */
  elapsed?: () => number;
  settings: MainSettings;
  log: MainLog;
}

export interface PipelineOutcome {
  pipeline: string;
  run: string;
  outcome: 'caught-up' | 'budget' | 'backoff' | 'no-data' | 'failed';
  from?: string;
  next?: string;
  states: number;
  tasks: number;
  emptyStates: number;
  error?: { code: string; message: string };
}

export interface MainRunResult {
  status: 'locked' | 'backoff' | 'watermark-failed' | 'ran';
  watermarkMs?: number;
  lastClosed?: string;
  outcomes: PipelineOutcome[];
}

/**
 * One run of main: under the lease, read the control table (cursors, back-offs, replays) and the
 * watermark; then walk each pipeline's closed states from its cursor to the last state outside
 * the buffer, then the pending replays, until caught up or the time budget is spent. A failing
 * dependency puts its scope (`main` or the pipeline) into exponential back-off kept in Table
 * storage. With nothing to do, a run is the control read and one watermark read.
 */
export async function runMain(deps: MainDeps): Promise<MainRunResult> {
  const lease = deps.acquireLease ? await deps.acquireLease() : undefined;
  if (deps.acquireLease && !lease) {
    deps.log.info('main: another run holds the lease; exiting');
    return { status: 'locked', outcomes: [] };
  }
  try {
    return await runLocked(deps, lease);
  } finally {
    await lease?.release();
  }
}

async function runLocked(deps: MainDeps, lease: RunLease | undefined): Promise<MainRunResult> {
  const elapsed = deps.elapsed ?? (() => performance.now());
  const deadline = elapsed() + deps.settings.budgetMs;
  const shouldStop = () => elapsed() >= deadline || lease?.lost === true;
  const control = await readControl(deps.control);
  const nowMs = deps.now();

  const mainBackoff = control.backoffs.get('main');
  if (isBackingOff(mainBackoff, nowMs)) {
    deps.log.warn(backingOffMessage(mainBackoff));
    return { status: 'backoff', outcomes: [] };
  }
  let watermark: Awaited<ReturnType<MainDeps['watermark']>>;
  try {
    watermark = await deps.watermark();
  } catch (err) {
    const next = nextBackoff(
      mainBackoff,
      'main',
      `WATERMARK_UNAVAILABLE: ${describeError(err)}`,
      nowMs,
      deps.settings.backoffMaxMs,
    );
    await saveBackoff(deps.control, next);
    deps.log.error(`main: could not read the landing watermark; ${backingOffMessage(next)}`);
    return { status: 'watermark-failed', outcomes: [] };
  }
  if (mainBackoff) await clearBackoff(deps.control, 'main');

  const lastClosed = lastClosedState(watermark, deps.settings.bufferMinutes * 60_000);
  const walkDeps: WalkDeps = {
    blocks: new BlockRangeCache(deps.blockIndex),
    taskLog: deps.taskLog,
    sender: new TaskSender(deps.queueFor, deps.settings.sendConcurrency),
    batchStates: deps.settings.batchStates,
    taskMaxBytes: deps.settings.taskMaxBytes,
    now: deps.now,
    shouldStop,
    log: (m) => deps.log.info(m),
  };
  let oldest: Promise<string | undefined> | undefined;
  const firstState = () => {
    if (deps.settings.startTime) return Promise.resolve(stateIdOf(Date.parse(deps.settings.startTime)));
    oldest ??= oldestIndexedState(deps.blockIndex);
    return oldest;
  };

  const live = await Promise.all(
    deps.pipelines.map((pipeline) =>
      guarded(deps, control, pipeline.name, 'live', async () => {
        let cursor = control.cursors.get(pipeline.name);
        if (!cursor) {
          const first = await firstState();
          if (!first) return { outcome: 'no-data', states: 0, tasks: 0, emptyStates: 0 };
          cursor = await createCursor(deps.control, pipeline.name, first, new Date(deps.now()));
          deps.log.info(`main: pipeline ${pipeline.name} has no cursor; starting at state ${cursor.next}`);
        }
        let current: Cursor = cursor;
        const walked = await walkStates(
          walkDeps,
          { pipeline: pipeline.name, queue: pipeline.queue, run: 'live' },
          cursor.next,
          lastClosed,
          async (next) => {
            current = await advanceCursor(deps.control, current, next, new Date(deps.now()));
          },
        );
        await updateCompleted(deps, control, pipeline.name, walked.next);
        return fromWalk(cursor.next, walked);
      }),
    ),
  );

  // Replays share what is left of the budget, oldest request first, one at a time.
  const replays: PipelineOutcome[] = [];
  for (const replay of control.replays) {
    const pipeline = deps.pipelines.find((p) => p.name === replay.pipeline);
    if (!pipeline || shouldStop()) continue;
    replays.push(
      await guarded(deps, control, pipeline.name, replayRun(replay.id), async () => {
        let current: Replay = replay;
        const to = earlierState(replay.to, lastClosed);
        const target = {
          pipeline: pipeline.name,
          queue: pipeline.queue,
          run: replayRun(replay.id),
          tenant: replay.tenant || undefined,
        };
        const walked = await walkStates(walkDeps, target, replay.next, to, async (next, batch) => {
          const done = next > replay.to;
          current = await updateReplay(deps.control, {
            ...current,
            next,
            status: done ? 'done' : 'running',
            states: current.states + batch.states,
            tasks: current.tasks + batch.tasks,
            finishedAt: done ? new Date(deps.now()).toISOString() : '',
          });
        });
        return fromWalk(replay.next, walked);
      }),
    );
  }
  return { status: 'ran', watermarkMs: watermark.timeMs, lastClosed, outcomes: [...live, ...replays] };
}

/** Moves the pipeline's completed-through state forward when workers have finished more tasks. */
async function updateCompleted(deps: MainDeps, control: Control, pipeline: string, cursorNext: string) {
  const known = control.completed.get(pipeline);
  const through = await completedThrough(deps.taskLog, pipeline, cursorNext, known);
  if (through !== known?.through) {
    await saveCompleted(deps.control, { pipeline, through, updatedAt: new Date(deps.now()).toISOString() });
  }
}

function fromWalk(from: string, walked: WalkResult): Omit<PipelineOutcome, 'pipeline' | 'run'> {
  return {
    outcome: walked.finished ? 'caught-up' : 'budget',
    from,
    next: walked.next,
    states: walked.states,
    tasks: walked.tasks,
    emptyStates: walked.emptyStates,
  };
}

/** Runs one pipeline's walk under its back-off: skipped while backing off, backed off when it fails. */
async function guarded(
  deps: MainDeps,
  control: Control,
  pipeline: string,
  run: string,
  work: () => Promise<Omit<PipelineOutcome, 'pipeline' | 'run'>>,
): Promise<PipelineOutcome> {
  const nowMs = deps.now();
  const backoff = control.backoffs.get(pipeline);
  if (isBackingOff(backoff, nowMs)) {
    deps.log.warn(backingOffMessage(backoff));
    return { pipeline, run, outcome: 'backoff', states: 0, tasks: 0, emptyStates: 0 };
  }
  try {
    const outcome = await work();
    if (backoff && control.backoffs.has(pipeline)) {
      control.backoffs.delete(pipeline);
      await clearBackoff(deps.control, pipeline);
    }
    return { pipeline, run, ...outcome };
  } catch (err) {
    const code = err instanceof MainError ? err.code : 'PIPELINE_FAILED';
    const message = describeError(err);
    if (code === 'CURSOR_CONFLICT') {
      // Not a dependency failure: another writer moved the cursor; the next run starts from it.
      deps.log.warn(`main: ${pipeline} ${run}: ${message}`);
    } else {
      const next = nextBackoff(
        control.backoffs.get(pipeline),
        pipeline,
        `${code}: ${message}`,
        deps.now(),
        deps.settings.backoffMaxMs,
      );
      control.backoffs.set(pipeline, { ...next, etag: '*' });
      await saveBackoff(deps.control, next).catch((saveErr) =>
        deps.log.error(`main: could not record the back-off of ${pipeline}: ${describeError(saveErr)}`),
      );
      deps.log.error(`main: ${pipeline} ${run} failed; ${backingOffMessage(next)}`);
    }
    return {
      pipeline,
      run,
      outcome: 'failed',
      states: 0,
      tasks: 0,
      emptyStates: 0,
      error: { code, message },
    };
  }
}

function backingOffMessage(b: Backoff): string {
  return (
    `${b.scope} is backing off until ${new Date(b.retryAtMs).toISOString()} ` +
    `(failure ${b.failures} since ${new Date(b.sinceMs).toISOString()}): ${b.reason}`
  );
}
