import type { TableClient } from '@azure/data-tables';
import { isStatus } from '../clients/errors.js';
import { oldestIndexedState } from '../landing/blockIndex.js';
import { readControl, readReplay } from '../main/control.js';
import { MainError } from '../main/errors.js';
import { requestReplay } from '../main/replay.js';
import { METRIC_NAME, type MetricDefinition, MetricDefinitionSchema } from '../metrics/definition.js';
import {
  isBuiltin,
  listBuilding,
  readTenantMetric,
  saveTenantMetric,
  type TenantMetric,
} from '../metrics/store.js';
import { replayRun } from '../pipelines/task.js';
import { listTaskLog } from '../tasklog/index.js';
import { nextStateId } from '../temporal/index.js';

export const metricErrors = {
  METRIC_INVALID: 400,
  METRIC_NOT_FOUND: 404,
  BUILTIN_METRIC: 409,
  METRIC_CONFLICT: 409,
} as const;

export class MetricError extends Error {
  readonly status: number;
  constructor(
    readonly code: keyof typeof metricErrors,
    message: string,
  ) {
    super(message);
    this.status = metricErrors[code];
  }
}

/** The pipeline that computes metrics (its replays rebuild a changed definition). */
export const AGGREGATE = 'aggregate';

export interface ManageDeps {
  table: TableClient;
  control: TableClient;
  blockIndex: TableClient;
  taskLog: TableClient;
  pipelines: readonly { name: string }[];
  now: () => number;
}

const rebuildId = (name: string, version: number) => `metric-${name}-v${version}`;

/**
 * Creates or changes a tenant metric. A new version is computed over the retained history by a
 * replay of the aggregate pipeline for that tenant, from the oldest landed state to where the
 * live cursor is now (states after it are computed live with every version in use); until the
 * replay is done the previous version keeps answering. With no history the version is active at once.
 */
export async function putMetric(
  deps: ManageDeps,
  tenant: string,
  name: string,
  body: unknown,
): Promise<TenantMetric> {
  if (!METRIC_NAME.test(name))
    throw new MetricError(
      'METRIC_INVALID',
      `'${name}' is not a metric name (1-24 lowercase letters, digits, hyphens)`,
    );
  if (isBuiltin(name))
    throw new MetricError('BUILTIN_METRIC', `'${name}' is a built-in metric; choose another name`);
  const parsed = MetricDefinitionSchema.safeParse({ ...(body as object), name });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new MetricError('METRIC_INVALID', `${issue.path.join('.') || 'definition'}: ${issue.message}`);
  }
  const definition = parsed.data;
  const existing = await readTenantMetric(deps.table, tenant, name);
  const same = (d?: MetricDefinition) => d !== undefined && JSON.stringify(d) === JSON.stringify(definition);
  if (
    existing &&
    !existing.deleted &&
    (same(existing.building?.definition) || (!existing.building && same(existing.active?.definition)))
  ) {
    return existing;
  }
  const version = Math.max(existing?.active?.version ?? 0, existing?.building?.version ?? 0) + 1;
  const updatedAt = new Date(deps.now()).toISOString();
  const [oldest, control] = await Promise.all([
    oldestIndexedState(deps.blockIndex),
    readControl(deps.control),
  ]);
  const cursor = control.cursors.get(AGGREGATE);
  const through = cursor ? nextStateId(cursor.next, -1) : undefined;
  let next: TenantMetric;
  if (!oldest || !through || oldest > through) {
    next = { name, active: { version, definition }, deleted: false, updatedAt, etag: existing?.etag };
  } else {
    const replayId = rebuildId(name, version);
    try {
      await requestReplay(
        { control: deps.control, pipelines: deps.pipelines, now: deps.now },
        { pipeline: AGGREGATE, from: oldest, to: through, tenant, id: replayId },
      );
    } catch (err) {
      if (err instanceof MainError) throw new MetricError('METRIC_CONFLICT', err.message);
      throw err;
    }
    next = {
      name,
      active: existing?.deleted ? undefined : existing?.active,
      building: { version, definition, replayId },
      deleted: false,
      updatedAt,
      etag: existing?.etag,
    };
  }
  try {
    await saveTenantMetric(deps.table, tenant, next);
  } catch (err) {
    if (isStatus(err, 409, 412))
      throw new MetricError(
        'METRIC_CONFLICT',
        `Metric '${name}' was changed at the same time; read it and try again`,
      );
    throw err;
  }
  return next;
}

/** Stops computing a tenant metric; what was computed stays readable by version. */
export async function deleteMetric(
  deps: Pick<ManageDeps, 'table' | 'now'>,
  tenant: string,
  name: string,
): Promise<void> {
  if (isBuiltin(name))
    throw new MetricError('BUILTIN_METRIC', `'${name}' is a built-in metric and cannot be deleted`);
  const existing = await readTenantMetric(deps.table, tenant, name);
  if (!existing || existing.deleted) throw new MetricError('METRIC_NOT_FOUND', `No metric '${name}'`);
  await saveTenantMetric(deps.table, tenant, {
    ...existing,
    deleted: true,
    updatedAt: new Date(deps.now()).toISOString(),
  });
}

/**
 * Makes rebuilt versions active once their replay has enqueued every state and every one of its
 * tasks is done. Returns what it activated. Run by main after each run.
 */
export async function activateRebuilt(
  deps: Pick<ManageDeps, 'table' | 'control' | 'taskLog' | 'now'>,
): Promise<string[]> {
  const activated: string[] = [];
  for (const m of await listBuilding(deps.table)) {
    const b = m.building!;
    if (!b.replayId) continue;
    const replay = await readReplay(deps.control, AGGREGATE, b.replayId);
    if (replay?.status !== 'done') continue;
    const rows = await listTaskLog(deps.taskLog, AGGREGATE, replayRun(b.replayId));
    if (rows.length < replay.tasks || rows.some((r) => r.status !== 'done')) continue;
    try {
      await saveTenantMetric(deps.table, m.tenant, {
        ...m,
        active: { version: b.version, definition: b.definition },
        building: undefined,
        updatedAt: new Date(deps.now()).toISOString(),
      });
      activated.push(`${m.tenant}/${m.name} v${b.version}`);
    } catch (err) {
      if (!isStatus(err, 409, 412)) throw err;
    }
  }
  return activated;
}
