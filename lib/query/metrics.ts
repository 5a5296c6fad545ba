import type { Container } from '@azure/cosmos';
import type { TableClient } from '@azure/data-tables';
import { METRIC_NAME } from '../metrics/definition.js';
import { type MetricSeries, QueryError, readSeries } from '../metrics/query.js';
import { activeMetric } from '../metrics/versions.js';
import { badRequest } from './errors.js';
import { parseQuery, timeRange } from './params.js';
import { MetricsQuerySchema } from './schemas.js';

const intervalMs = {
  '1m': 60_000,
  '1h': 3_600_000,
  '12h': 43_200_000,
  '1d': 86_400_000,
  '7d': 604_800_000,
  '30d': 2_592_000_000,
};
/** Parameters that are not group filters: the range, the admin's tenant, the host's function key. */
const reserved = new Set(['from', 'to', 'interval', 'tenant', 'code']);

export interface MetricsDeps {
  definitions: TableClient;
  windows: Container;
  now: () => number;
}

/**
 * GET /v1/metrics/{metric}: the tenant's active version of the metric, per interval and group,
 * zero-filled. Every other parameter filters a groupBy field (`?data.stationId=bts-4`).
 */
export async function queryMetric(
  deps: MetricsDeps,
  tenant: string,
  name: string,
  query: URLSearchParams,
): Promise<MetricSeries> {
  if (!METRIC_NAME.test(name))
    throw badRequest(
      'METRIC_INVALID',
      `'${name}' is not a metric name (1-24 lowercase letters, digits and -)`,
    );
  const q = parseQuery(MetricsQuerySchema, query, {
    from: 'RANGE_INVALID',
    to: 'RANGE_INVALID',
    interval: 'INTERVAL_INVALID',
  });
  const metric = await activeMetric(deps.definitions, tenant, name);
  if (!metric) {
    throw badRequest(
      'METRIC_UNKNOWN',
      `There is no metric '${name}' (the built-ins are events, views, alarms, faults, sessions and users; ` +
        'yours are listed at GET /api/v1/metrics/definitions)',
    );
  }
  const filter: Record<string, string> = {};
  for (const [field, value] of query) {
    if (reserved.has(field)) continue;
    if (!metric.definition.groupBy.includes(field)) {
      const fields = metric.definition.groupBy;
      throw badRequest(
        'GROUP_FIELD_UNKNOWN',
        `'${field}' is not a groupBy field of '${name}'` +
          (fields.length ? `: filter by ${fields.join(', ')}` : ', which has no groups'),
      );
    }
    filter[field] = value;
  }
  const step = intervalMs[q.interval];
  const { from, to } = timeRange(q, deps.now(), 60 * step, Number.POSITIVE_INFINITY);
  try {
    return await readSeries(deps.windows, metric, q.interval, from, to, filter);
  } catch (err) {
    if (err instanceof QueryError) throw badRequest(err.code, err.message);
    throw err;
  }
}
