import type { Tenant, TenantStore } from '../tenants/store.js';
import { apiKeyFrom, type Denied, type HeaderSource } from './apiKey.js';

/** The tenant key check of the telemetry endpoints: the tenant always comes from the key. */
export type TenantAuth =
  | { ok: true; tenant: Tenant }
  | (Denied & { code: 'AUTH_REQUIRED' | 'AUTH_INVALID' | 'FORBIDDEN' });

export async function authenticateTenant(
  headers: HeaderSource,
  store: Pick<TenantStore, 'tenantForKey'>,
): Promise<TenantAuth> {
  const key = apiKeyFrom(headers);
  if (!key) {
    return {
      ok: false,
      status: 401,
      code: 'AUTH_REQUIRED',
      message: 'Send your tenant API key in "Authorization: Bearer <key>" or "x-api-key"',
    };
  }
  const tenant = await store.tenantForKey(key);
  if (!tenant) {
    return {
      ok: false,
      status: 401,
      code: 'AUTH_INVALID',
      message: 'The API key is not known: check it or ask for a new one',
    };
  }
  if (tenant.disabled) {
    return { ok: false, status: 403, code: 'FORBIDDEN', message: `Tenant ${tenant.id} is disabled` };
  }
  return { ok: true, tenant };
}
