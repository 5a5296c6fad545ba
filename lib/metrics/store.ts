import type { TableClient } from '@azure/data-tables';
import { isStatus } from '../clients/errors.js';
import { builtinMetrics } from './builtin.js';
import { type MetricDefinition, MetricDefinitionSchema } from './definition.js';

/**
 * A tenant's own metrics, in Table storage (`metricdefs`, partition = tenant, row = metric
 * name). A changed definition gets a new version, computed over all retained history by a replay
 * of the aggregate pipeline while the previous version keeps answering; `activeVersion` is what
 * queries read, and moves when the rebuild has caught up (`activateRebuilt`).
 */
export const metricDefinitionsTable = 'metricdefs';

export interface TenantMetric {
  name: string;
  active?: { version: number; definition: MetricDefinition };
  building?: { version: number; definition: MetricDefinition; replayId: string | null };
  deleted: boolean;
  updatedAt: string;
  etag?: string;
}

interface Entity {
  partitionKey: string;
  rowKey: string;
  activeVersion: number;
  activeDefinition: string;
  buildingVersion: number;
  buildingDefinition: string;
  replayId: string;
  deleted: boolean;
  updatedAt: string;
}

const builtinNames = new Set(builtinMetrics.map((m) => m.name));
export const isBuiltin = (name: string) => builtinNames.has(name);

function fromEntity(e: Entity & { etag?: string }): TenantMetric {
  const parse = (text: string) => MetricDefinitionSchema.parse(JSON.parse(text));
  return {
    name: e.rowKey,
    active: e.activeVersion ? { version: e.activeVersion, definition: parse(e.activeDefinition) } : undefined,
    building: e.buildingVersion
      ? { version: e.buildingVersion, definition: parse(e.buildingDefinition), replayId: e.replayId || null }
      : undefined,
    deleted: e.deleted,
    updatedAt: e.updatedAt,
    etag: e.etag,
  };
}

function toEntity(tenant: string, m: TenantMetric): Entity {
  return {
    partitionKey: tenant,
    rowKey: m.name,
    activeVersion: m.active?.version ?? 0,
    activeDefinition: m.active ? JSON.stringify(m.active.definition) : '',
    buildingVersion: m.building?.version ?? 0,
    buildingDefinition: m.building ? JSON.stringify(m.building.definition) : '',
    replayId: m.building?.replayId ?? '',
    deleted: m.deleted,
    updatedAt: m.updatedAt,
  };
}

export async function readTenantMetric(
  table: TableClient,
  tenant: string,
  name: string,
): Promise<TenantMetric | undefined> {
  try {
    return fromEntity(await table.getEntity<Entity>(tenant, name));
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

export async function listTenantMetrics(table: TableClient, tenant: string): Promise<TenantMetric[]> {
  const out: TenantMetric[] = [];
  for await (const e of table.listEntities<Entity>({
    queryOptions: { filter: `PartitionKey eq '${tenant.replaceAll("'", "''")}'` },
  })) {
    out.push(fromEntity(e as Entity & { etag?: string }));
  }
  return out;
}

/** Every tenant's metrics that are being rebuilt (for the step that activates them). */
export async function listBuilding(table: TableClient): Promise<(TenantMetric & { tenant: string })[]> {
  const out: (TenantMetric & { tenant: string })[] = [];
  for await (const e of table.listEntities<Entity>({ queryOptions: { filter: 'buildingVersion gt 0' } })) {
    out.push({ ...fromEntity(e as Entity & { etag?: string }), tenant: e.partitionKey! });
  }
  return out;
}

/** Writes a tenant metric if nobody changed it since it was read (ETag), or creates it. */
export async function saveTenantMetric(table: TableClient, tenant: string, m: TenantMetric): Promise<void> {
  const entity = toEntity(tenant, m);
  if (m.etag) await table.updateEntity(entity, 'Replace', { etag: m.etag });
  else await table.createEntity(entity);
}
