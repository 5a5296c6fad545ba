import type { TableClient } from '@azure/data-tables';
import { isStatus } from '../clients/errors.js';
import { type AlertRule, AlertRuleSchema } from './rule.js';

/** Alert rules in Table storage (`alertrules`, partition = tenant, row = rule name). */
export const alertRulesTable = 'alertrules';

const filterTenant = (tenant: string) => `PartitionKey eq '${tenant.replaceAll("'", "''")}'`;

export async function listRules(table: TableClient, tenant: string): Promise<AlertRule[]> {
  const out: AlertRule[] = [];
  for await (const e of table.listEntities<{ rule: string }>({
    queryOptions: { filter: filterTenant(tenant) },
  })) {
    out.push(AlertRuleSchema.parse(JSON.parse(e.rule)));
  }
  return out;
}

export async function readRule(
  table: TableClient,
  tenant: string,
  name: string,
): Promise<AlertRule | undefined> {
  try {
    const e = await table.getEntity<{ rule: string }>(tenant, name);
    return AlertRuleSchema.parse(JSON.parse(e.rule));
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

export async function saveRule(
  table: TableClient,
  tenant: string,
  rule: AlertRule,
  now: Date,
): Promise<void> {
  await table.upsertEntity(
    { partitionKey: tenant, rowKey: rule.name, rule: JSON.stringify(rule), updatedAt: now.toISOString() },
    'Replace',
  );
}

export async function deleteRule(table: TableClient, tenant: string, name: string): Promise<boolean> {
  try {
    await table.deleteEntity(tenant, name);
    return true;
  } catch (err) {
    if (isStatus(err, 404)) return false;
    throw err;
  }
}
