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
  return authenticateTenantKey(
    { key: apiKeyFrom(headers), howToSend: 'in "Authorization: Bearer <key>" or "x-api-key"' },
    store,
  );
}

/** A tenant key as a route reads it, and where that route wants it (for the 401 that asks for it). */
export interface PresentedKey {
  key: string | undefined;
  howToSend: string;
}

/** The tenant key check, for a key found wherever the route takes it (a header, a write key). */
export async function authenticateTenantKey(
  { key, howToSend }: PresentedKey,
  store: Pick<TenantStore, 'tenantForKey'>,
): Promise<TenantAuth> {
  if (!key) {
    return {
      ok: false,
      status: 401,
      code: 'AUTH_REQUIRED',
      message: `Send your tenant API key ${howToSend}`,
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
