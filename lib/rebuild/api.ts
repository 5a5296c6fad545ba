import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { checkAdminKey, deniedResponse } from '../auth/adminKey.js';
import { blockIndexTable } from '../landing/blockIndex.js';
import { controlTable } from '../main/control.js';
import { builtinMetrics } from '../metrics/builtin.js';
import {
  listTenantMetrics,
  metricDefinitionsTable,
  readTenantMetric,
  type TenantMetric,
} from '../metrics/store.js';
import { pipelines } from '../pipelines/registry.js';
import type { Services } from '../services/index.js';
import { taskLogTable } from '../tasklog/index.js';
import { deleteMetric, type ManageDeps, MetricError, putMetric } from './index.js';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const error = (status: number, code: string, message: string): HttpResponseInit => ({
  status,
  jsonBody: { code, message },
});

function view(m: TenantMetric) {
  return {
    name: m.name,
    builtin: false,
    activeVersion: m.active?.version ?? null,
    definition: m.active?.definition ?? null,
    rebuilding: m.building
      ? { version: m.building.version, definition: m.building.definition, replay: m.building.replayId }
      : null,
    deleted: m.deleted,
    updatedAt: m.updatedAt,
  };
}

const builtinView = (definition: (typeof builtinMetrics)[number]) => ({
  name: definition.name,
  builtin: true,
  activeVersion: 1,
  definition,
  rebuilding: null,
  deleted: false,
});

/**
 * `GET|PUT|DELETE /api/v1/metrics/definitions/{name}` and `GET /api/v1/metrics/definitions`:
 * a tenant's metric definitions (admin key; the tenant in `?tenant=`). PUT answers 202 while the
 * new version is rebuilt over history (its progress is the replay in `GET /api/v1/status`), 200
 * when it is active at once or unchanged.
 */
export async function handleMetricDefinitions(request: HttpRequest, s: Services): Promise<HttpResponseInit> {
  const auth = checkAdminKey(request.headers, s.config);
  if (!auth.ok) return deniedResponse(auth);
  const tenant = request.query.get('tenant') ?? '';
  if (!TENANT.test(tenant)) {
    return error(
      400,
      'TENANT_REQUIRED',
      'Name the tenant: ?tenant=<tenant id> (letters, digits, _ and -, at most 64)',
    );
  }
  const table = s.table(metricDefinitionsTable);
  const name = request.params.name;
  const deps: ManageDeps = {
    table,
    control: s.table(controlTable),
    blockIndex: s.table(blockIndexTable),
    taskLog: s.table(taskLogTable),
    pipelines: pipelines(),
    now: Date.now,
  };
  try {
    if (request.method === 'GET' && !name) {
      const own = await listTenantMetrics(table, tenant);
      return {
        status: 200,
        jsonBody: {
          tenant,
          metrics: [...builtinMetrics.map(builtinView), ...own.filter((m) => !m.deleted).map(view)],
        },
      };
    }
    if (!name)
      return error(
        405,
        'METHOD_NOT_ALLOWED',
        'PUT and DELETE take a metric name: /api/v1/metrics/definitions/{name}',
      );
    if (request.method === 'GET') {
      const builtin = builtinMetrics.find((m) => m.name === name);
      if (builtin) return { status: 200, jsonBody: builtinView(builtin) };
      const m = await readTenantMetric(table, tenant, name);
      return m && !m.deleted
        ? { status: 200, jsonBody: view(m) }
        : error(404, 'METRIC_NOT_FOUND', `No metric '${name}'`);
    }
    if (request.method === 'DELETE') {
      await deleteMetric(deps, tenant, name);
      return { status: 204 };
    }
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return error(400, 'BODY_MALFORMED', 'The body must be a JSON metric definition');
    }
    const m = await putMetric(deps, tenant, name, body);
    return { status: m.building ? 202 : 200, jsonBody: view(m) };
  } catch (err) {
    if (err instanceof MetricError) return error(err.status, err.code, err.message);
    throw err;
  }
}
