import type { TableClient } from '@azure/data-tables';
import { builtinMetrics } from './builtin.js';
import { listTenantMetrics, readTenantMetric } from './store.js';
import type { MetricVersion } from './windows.js';

/**
 * The metric versions a task computes: the built-ins and the tenant's metrics in use (the active
 * version and one being rebuilt); a rebuild's replay (`replay-metric-<name>-v<n>`) computes only
 * that version.
 */
export async function metricsFor(table: TableClient, tenant: string, run: string): Promise<MetricVersion[]> {
  const rebuild = /^replay-metric-([a-z][a-z0-9-]*)-v(\d+)$/.exec(run);
  if (rebuild) {
    const m = await readTenantMetric(table, tenant, rebuild[1]!);
    const version = Number(rebuild[2]);
    const match = [m?.building, m?.active].find((v) => v?.version === version);
    return match && !m?.deleted ? [{ tenant, definition: match.definition, version }] : [];
  }
  const out: MetricVersion[] = builtinMetrics.map((definition) => ({ tenant, definition, version: 1 }));
  for (const m of await listTenantMetrics(table, tenant)) {
    if (m.deleted) continue;
    if (m.active) out.push({ tenant, ...m.active });
    if (m.building) out.push({ tenant, definition: m.building.definition, version: m.building.version });
  }
  return out;
}

/** The version queries read: a tenant metric's active version, or a built-in's (1). */
export async function activeMetric(
  table: TableClient,
  tenant: string,
  name: string,
): Promise<MetricVersion | undefined> {
  const builtin = builtinMetrics.find((m) => m.name === name);
  if (builtin) return { tenant, definition: builtin, version: 1 };
  const m = await readTenantMetric(table, tenant, name);
  return m && !m.deleted && m.active ? { tenant, ...m.active } : undefined;
}
