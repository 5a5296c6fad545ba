import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertsContainer } from '../alerts/evaluate.js';
import { duckdb } from '../duckdb/index.js';
import { metricDefinitionsTable } from '../metrics/store.js';
import { metricsContainer } from '../metrics/windows.js';
import type { Services } from '../services/index.js';
import { tenantStores } from '../tenants/index.js';
import { usersContainer } from '../users/lookup.js';
import type { QueryDeps } from './http.js';

const memo = new WeakMap<Services, QueryDeps>();

/** The query API's dependencies over the process's shared clients. */
export function queryDepsFrom(s: Services): QueryDeps {
  let d = memo.get(s);
  if (d) return d;
  const c = s.config;
  d = {
    caller: { tenants: tenantStores(s).tenants, adminKey: c.TELEMETRY_ADMIN_KEY },
    metrics: {
      definitions: s.table(metricDefinitionsTable),
      windows: s.cosmosContainer(metricsContainer),
      now: Date.now,
    },
    users: { users: s.cosmosContainer(usersContainer), privacySecret: c.PRIVACY_SECRET },
    events: {
      lake: s.lakeContainer,
      duckdb: () =>
        duckdb({
          threads: c.DUCKDB_THREADS,
          memoryMb: c.DUCKDB_MEMORY_MB,
          tempDirectory: join(tmpdir(), 'duckdb'),
        }),
      tmpDir: tmpdir(),
      privacySecret: c.PRIVACY_SECRET,
      now: Date.now,
    },
    alerts: { alerts: s.cosmosContainer(alertsContainer), now: Date.now },
  };
  memo.set(s, d);
  return d;
}
