import { describeError } from '../clients/errors.js';
import type { AlertsDeps } from './alerts.js';
import { listAlerts } from './alerts.js';
import { type CallerDeps, queryTenant } from './caller.js';
import { QueryApiError } from './errors.js';
import { type EventsDeps, queryEvents } from './events.js';
import { type MetricsDeps, queryMetric } from './metrics.js';
import { lookUpUser, type UsersDeps } from './users.js';

/** What the query handlers read from a Functions HttpRequest. */
export interface QueryRequest {
  headers: Headers;
  query: URLSearchParams;
  params: Record<string, string>;
}

/** Where a handler logs (an InvocationContext fits). */
export interface QueryLog {
  invocationId: string;
  error(...args: unknown[]): void;
}

export interface QueryResponse {
  status: number;
  headers: Record<string, string>;
  jsonBody: unknown;
}

export interface QueryDeps {
  caller: CallerDeps;
  metrics: MetricsDeps;
  users: UsersDeps;
  events: EventsDeps;
  alerts: AlertsDeps;
}

/** An Azure SDK failure (storage, Cosmos DB): the dependency, not the request, is at fault. */
const isDependencyError = (err: unknown) => {
  const e = err as { statusCode?: unknown; code?: unknown; name?: unknown };
  return typeof e?.statusCode === 'number' || typeof e?.code === 'number' || e?.name === 'RestError';
};

async function answer(log: QueryLog, run: () => Promise<unknown>): Promise<QueryResponse> {
  // Query answers are the tenant's data: never kept by a shared cache.
  const headers = { 'cache-control': 'private, no-store' };
  try {
    return { status: 200, headers, jsonBody: await run() };
  } catch (err) {
    if (err instanceof QueryApiError) {
      return {
        status: err.status,
        headers: { ...headers, ...err.headers },
        jsonBody: { code: err.code, message: err.message },
      };
    }
    const unavailable = isDependencyError(err);
    const status = unavailable ? 503 : 500;
    log.error(`invocation ${log.invocationId}: ${status}: ${describeError(err)}`, err);
    return unavailable
      ? {
          status,
          headers: { ...headers, 'retry-after': '5' },
          jsonBody: {
            code: 'STORAGE_UNAVAILABLE',
            message: 'Storage or Cosmos DB did not answer: retry in a few seconds',
          },
        }
      : {
          status,
          headers,
          jsonBody: { code: 'INTERNAL', message: 'The query failed unexpectedly; retry later' },
        };
  }
}

const tenantOf = (request: QueryRequest, deps: QueryDeps) =>
  queryTenant(request.headers, request.query, deps.caller);

/** GET /v1/metrics/{metric} */
export function handleMetrics(request: QueryRequest, deps: QueryDeps, log: QueryLog) {
  return answer(log, async () =>
    queryMetric(deps.metrics, await tenantOf(request, deps), request.params.metric ?? '', request.query),
  );
}

/** GET /v1/users/{userId} */
export function handleUser(request: QueryRequest, deps: QueryDeps, log: QueryLog) {
  return answer(log, async () =>
    lookUpUser(deps.users, await tenantOf(request, deps), request.params.userId ?? ''),
  );
}

/** GET /v1/events */
export function handleEventsQuery(request: QueryRequest, deps: QueryDeps, log: QueryLog) {
  return answer(log, async () => queryEvents(deps.events, await tenantOf(request, deps), request.query));
}

/** GET /v1/alerts */
export function handleAlerts(request: QueryRequest, deps: QueryDeps, log: QueryLog) {
  return answer(log, async () => listAlerts(deps.alerts, await tenantOf(request, deps), request.query));
}
