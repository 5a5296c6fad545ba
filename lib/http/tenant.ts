import { deniedResponse } from '../auth/apiKey.js';
import { authenticateTenant, authenticateTenantKey, type PresentedKey } from '../auth/tenantKey.js';
import type { TenantRules } from '../ingest/pipeline.js';
import { tenantRules } from '../ingest/rules.js';
import type { Tenant } from '../tenants/store.js';
import type { HttpDeps } from './deps.js';
import type { ApiRequest } from './request.js';
import type { JsonResponse } from './responses.js';
import { fromStorage } from './storage.js';

/**
 * The caller's tenant from its key (from the headers, or `presented` where the route reads it
 * elsewhere), or the 401/403 answer.
 */
export async function callerTenant(
  request: ApiRequest,
  deps: HttpDeps,
  presented?: PresentedKey,
): Promise<{ tenant: Tenant } | { denied: JsonResponse }> {
  const auth = await fromStorage(
    () =>
      presented
        ? authenticateTenantKey(presented, deps.stores.tenants)
        : authenticateTenant(request.headers, deps.stores.tenants),
    deps.ingest.deadlineMs,
  );
  return auth.ok ? { tenant: auth.tenant } : { denied: deniedResponse(auth) };
}

/** The caller's tenant and the rules ingest applies to it. */
export async function callerRules(
  request: ApiRequest,
  deps: HttpDeps,
  presented?: PresentedKey,
): Promise<{ rules: TenantRules } | { denied: JsonResponse }> {
  const caller = await callerTenant(request, deps, presented);
  if ('denied' in caller) return caller;
  return {
    rules: await fromStorage(
      () => tenantRules(caller.tenant, deps.stores, deps.settings.PRIVACY_SECRET),
      deps.ingest.deadlineMs,
    ),
  };
}
