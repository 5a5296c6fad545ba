import { blockIndexTable } from '../landing/blockIndex.js';
import { listGaps } from '../landing/gaps.js';
import { currentWatermark } from '../landing/progress.js';
import { landingTable } from '../landing/watermarks.js';
import type { Pipeline } from '../pipelines/pipeline.js';
import type { Services } from '../services/index.js';
import { taskLogTable } from '../tasklog/index.js';
import { controlTable } from './control.js';
import { tryAcquireLease } from './lease.js';
import type { MainDeps, MainLog } from './run.js';
import type { StatusDeps } from './status.js';

/** Where the run lease lives: the app's storage account, next to the tables it guards. */
export const leaseContainer = 'telemetry-locks';
export const leaseBlob = 'main';

const minuteMs = 60_000;

function watermarkOf(s: Services) {
  return () =>
    currentWatermark({ landing: s.table(landingTable), eventHub: s.eventHubProducer, now: Date.now });
}

/** Main's dependencies, built from the app's services and settings. */
export function mainDepsFrom(s: Services, pipelines: readonly Pipeline[], log: MainLog): MainDeps {
  const c = s.config;
  const locks = s.storageContainer(leaseContainer);
  return {
    pipelines,
    control: s.table(controlTable),
    taskLog: s.table(taskLogTable),
    blockIndex: s.table(blockIndexTable),
    queueFor: (name) => s.queueService.getQueueClient(name),
    watermark: watermarkOf(s),
    acquireLease: () => tryAcquireLease(locks, leaseBlob),
    now: Date.now,
    settings: {
      budgetMs: c.MAIN_TIME_BUDGET_SECONDS * 1000,
      bufferMinutes: c.MAIN_BUFFER_MINUTES,
      startTime: c.MAIN_START_TIME,
      backoffMaxMs: c.MAIN_BACKOFF_MAX_MINUTES * minuteMs,
      batchStates: c.MAIN_BATCH_STATES,
      sendConcurrency: c.MAIN_SEND_CONCURRENCY,
      taskMaxBytes: c.MAIN_TASK_MAX_BYTES,
    },
    log,
  };
}

export function statusDepsFrom(s: Services, pipelines: readonly Pipeline[]): StatusDeps {
  return {
    pipelines,
    control: s.table(controlTable),
    taskLog: s.table(taskLogTable),
    gaps: () => listGaps(s.table(landingTable), s.config.EVENTHUB_NAME),
    queueFor: (name) => s.queueService.getQueueClient(name),
    watermark: watermarkOf(s),
    now: Date.now,
    bufferMinutes: s.config.MAIN_BUFFER_MINUTES,
  };
}
