import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdb } from '../../duckdb/index.js';
import { blobLake } from '../../lake/index.js';
import { blockIndexTable } from '../../landing/blockIndex.js';
import { limiter } from '../../pool/index.js';
import type { Services } from '../../services/index.js';
import { idsCacheOf } from './cache.js';
import type { LoadDeps } from './load.js';

let limit: { size: number; run: LoadDeps['limit'] } | undefined;

/**
 * What every worker that reads a task's events needs, from the app's services and settings: one
 * DuckDB and one bound on tasks in flight (WORKER_CONCURRENCY) per instance, shared by pipelines.
 */
export function loadDepsFrom(s: Services, log?: (message: string) => void): LoadDeps {
  const c = s.config;
  if (limit?.size !== c.WORKER_CONCURRENCY)
    limit = { size: c.WORKER_CONCURRENCY, run: limiter(c.WORKER_CONCURRENCY) };
  return {
    read: {
      lake: blobLake(s.lakeContainer),
      blockIndex: s.table(blockIndexTable),
      horizonMinutes: c.CURATE_DEDUPE_MINUTES,
      idsCache: idsCacheOf(c.DEDUPE_CACHE_MB * 1024 * 1024),
    },
    duckdb: () =>
      duckdb({
        threads: c.DUCKDB_THREADS,
        memoryMb: c.DUCKDB_MEMORY_MB,
        tempDirectory: join(tmpdir(), 'duckdb'),
      }),
    tmpDir: tmpdir(),
    limit: limit.run,
    log,
  };
}
