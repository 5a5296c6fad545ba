import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duckdb } from '../../duckdb/index.js';
import { blobLake } from '../../lake/index.js';
import { blockIndexTable } from '../../landing/blockIndex.js';
import { limiter } from '../../pool/index.js';
import type { Services } from '../../services/index.js';
import { idsCacheOf } from '../events/cache.js';
import type { CurateDeps } from './curate.js';

let limit: { size: number; run: CurateDeps['limit'] } | undefined;

/** Curate's dependencies, built from the app's services and settings. */
export function curateDepsFrom(s: Services, log?: (message: string) => void): CurateDeps {
  const c = s.config;
  if (limit?.size !== c.CURATE_CONCURRENCY)
    limit = { size: c.CURATE_CONCURRENCY, run: limiter(c.CURATE_CONCURRENCY) };
  const lake = blobLake(s.lakeContainer);
  return {
    lake,
    read: {
      lake,
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
