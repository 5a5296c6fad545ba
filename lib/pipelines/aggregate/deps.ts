import { alertsContainer, alertsQueue, evaluateAlerts } from '../../alerts/evaluate.js';
import type { AlertRule } from '../../alerts/rule.js';
import { alertRulesTable, listRules } from '../../alerts/store.js';
import { metricDefinitionsTable } from '../../metrics/store.js';
import { activeMetric, metricsFor } from '../../metrics/versions.js';
import { metricsContainer } from '../../metrics/windows.js';
import type { Services } from '../../services/index.js';
import { TtlCache } from '../../tenants/ttl-cache.js';
import { loadDepsFrom } from '../events/deps.js';
import type { AggregateDeps } from './aggregate.js';

let caches: { ttl: number; rules: TtlCache<AlertRule[]>; active: TtlCache<number | undefined> } | undefined;

/** Aggregate's dependencies, built from the app's services and settings. */
export function aggregateDepsFrom(s: Services, log?: (message: string) => void): AggregateDeps {
  const c = s.config;
  const ttl = c.CONFIG_CACHE_SECONDS * 1000;
  if (caches?.ttl !== ttl) caches = { ttl, rules: new TtlCache(ttl), active: new TtlCache(ttl) };
  const { rules, active } = caches;
  const definitions = s.table(metricDefinitionsTable);
  return {
    ...loadDepsFrom(s, log),
    metrics: s.cosmosContainer(metricsContainer),
    definitions: (tenant, run) => metricsFor(definitions, tenant, run),
    maxGroups: c.AGGREGATE_MAX_GROUPS,
    afterFold: (m, folded, task) =>
      evaluateAlerts(
        {
          alerts: s.cosmosContainer(alertsContainer),
          queue: s.queueService.getQueueClient(alertsQueue),
          rules: (tenant) => rules.get(tenant, () => listRules(s.table(alertRulesTable), tenant)),
          isActive: async (v) =>
            (await active.get(`${v.tenant}\u0000${v.definition.name}`, async () => {
              return (await activeMetric(definitions, v.tenant, v.definition.name))?.version;
            })) === v.version,
          now: Date.now,
        },
        m,
        folded,
        task,
      ),
    now: Date.now,
  };
}
