import { metricDefinitionsTable } from '../../metrics/store.js';
import { metricsFor } from '../../metrics/versions.js';
import { metricsContainer } from '../../metrics/windows.js';
import type { Services } from '../../services/index.js';
import { loadDepsFrom } from '../events/deps.js';
import type { AggregateDeps } from './aggregate.js';

/** Aggregate's dependencies, built from the app's services and settings. */
export function aggregateDepsFrom(s: Services, log?: (message: string) => void): AggregateDeps {
  return {
    ...loadDepsFrom(s, log),
    metrics: s.cosmosContainer(metricsContainer),
    definitions: (tenant, run) => metricsFor(s.table(metricDefinitionsTable), tenant, run),
    maxGroups: s.config.AGGREGATE_MAX_GROUPS,
    now: Date.now,
  };
}
