import { blobLake } from '../lake/index.js';
import { blockIndexTable } from '../landing/blockIndex.js';
import { controlTable } from '../main/control.js';
import type { Pipeline } from '../pipelines/pipeline.js';
import type { Services } from '../services/index.js';
import { taskLogTable } from '../tasklog/index.js';
import type { RetentionDeps } from './index.js';

export function retentionDepsFrom(s: Services, pipelines: readonly Pipeline[]): RetentionDeps {
  return {
    blockIndex: s.table(blockIndexTable),
    taskLog: s.table(taskLogTable),
    control: s.table(controlTable),
    lake: blobLake(s.lakeContainer),
    pipelines,
    retentionDays: s.config.RAW_RETENTION_DAYS,
    now: Date.now,
  };
}
