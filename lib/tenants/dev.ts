import { generateKey } from './keys.js';
import type { TenantStore } from './store.js';

export const DEV_TENANT = 'dev';

/**
 * Makes sure the local dev tenant exists and accepts `key` (TELEMETRY_DEV_KEY when set, else a
 * generated key the caller prints). Idempotent: the dev runtime calls it on every start.
 */
export async function ensureDevTenant(
  store: TenantStore,
  key?: string,
  tenant = DEV_TENANT,
): Promise<{ tenant: string; key: string }> {
  const devKey = key ?? generateKey();
  if (!(await store.getTenant(tenant)))
    await store.putTenant(tenant, { internalDomains: [], internalIds: [] });
  await store.addKey(tenant, devKey);
  return { tenant, key: devKey };
}
