import { randomBytes } from 'node:crypto';
import type { TenantStore } from '../lib/tenants/store.js';

export const DEV_TENANT = 'dev';

/** A new random API key (URL-safe, 256 bits). */
export function generateKey(): string {
  return randomBytes(32).toString('base64url');
}

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
  if (!(await store.getTenant(tenant))) await store.putTenant(tenant);
  await store.addKey(tenant, devKey);
  return { tenant, key: devKey };
}
