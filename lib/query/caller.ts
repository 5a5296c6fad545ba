import { checkAdminKey } from '../auth/adminKey.js';
import { authenticateTenant } from '../auth/tenantKey.js';
import type { TenantStore } from '../tenants/store.js';
import { QueryApiError } from './errors.js';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface CallerDeps {
  tenants: Pick<TenantStore, 'tenantForKey' | 'getTenant'>;
  adminKey?: string;
}

/**
 * Whose data a query reads. A tenant key reads its own tenant, always (a `tenant` parameter with
 * it is refused rather than ignored); the admin key reads the tenant named in `?tenant=`.
 */
export async function queryTenant(
  headers: Headers,
  query: URLSearchParams,
  deps: CallerDeps,
): Promise<string> {
  const named = query.get('tenant');
  if (named !== null) {
    const admin = checkAdminKey(headers, { TELEMETRY_ADMIN_KEY: deps.adminKey });
    if (!admin.ok) {
      throw new QueryApiError(
        admin.status,
        admin.code,
        `${admin.message} (?tenant= is for the admin key; a tenant key reads its own data without it)`,
      );
    }
    if (!TENANT.test(named) || !(await deps.tenants.getTenant(named)))
      throw new QueryApiError(404, 'TENANT_NOT_FOUND', `There is no tenant '${named}'`);
    return named;
  }
  const auth = await authenticateTenant(headers, deps.tenants);
  if (!auth.ok) throw new QueryApiError(auth.status, auth.code, auth.message);
  return auth.tenant.id;
}
