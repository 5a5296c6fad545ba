import { checkAdminKey } from '../auth/adminKey.js';
import { deniedResponse } from '../auth/apiKey.js';
import { checkDeclaredLength, readDecoded } from '../ingest/body.js';
import { IngestError } from '../ingest/errors.js';
import type { VersionedConfig } from '../tenants/config.js';
import type { HttpDeps } from './deps.js';
import type { ApiRequest, RequestLog } from './request.js';
import { guarded, type JsonResponse } from './responses.js';
import { fromStorage } from './storage.js';
import { callerTenant } from './tenant.js';

/** GET /v1/config: the tenant's dynamic telemetry; `If-None-Match` with the current ETag gets 304. */
export function handleGetConfig(request: ApiRequest, deps: HttpDeps, log: RequestLog): Promise<JsonResponse> {
  return guarded(log, async () => {
    const caller = await callerTenant(request, deps);
    if ('denied' in caller) return caller.denied;
    const current = await fromStorage(() => deps.stores.config.get(caller.tenant.id), deps.ingest.deadlineMs);
    const headers = { etag: current.etag, 'cache-control': 'private, max-age=0, must-revalidate' };
    const ifNoneMatch = request.headers.get('if-none-match');
    if (ifNoneMatch?.split(',').some((t) => t.trim() === current.etag || t.trim() === '*')) {
      return { status: 304, headers, jsonBody: undefined };
    }
    return { status: 200, headers, jsonBody: { version: current.version, ...current.config } };
  });
}

/** The largest config body: 1,000 blocklist rules and 1,000 sampling rules fit well within it. */
export const MAX_CONFIG_BODY_BYTES = 256 * 1024;

/**
 * PUT or PATCH /v1/config?tenant=<id> (admin key). PUT replaces the tenant's whole config (every
 * field required); PATCH merges a JSON Merge Patch (RFC 7386), keeping fields left out. Either
 * bumps the version.
 */
export function handleChangeConfig(
  request: ApiRequest,
  deps: HttpDeps,
  log: RequestLog,
): Promise<JsonResponse> {
  const store = deps.stores.config;
  return request.method === 'PATCH'
    ? changeConfig(request, deps, log, (tenant, body, ifMatch) => store.patch(tenant, body, ifMatch))
    : changeConfig(request, deps, log, (tenant, body, ifMatch) => store.put(tenant, body, ifMatch));
}

async function changeConfig(
  request: ApiRequest,
  deps: HttpDeps,
  log: RequestLog,
  write: (tenant: string, body: unknown, ifMatch: string | undefined) => Promise<VersionedConfig>,
): Promise<JsonResponse> {
  return guarded(log, async () => {
    const auth = checkAdminKey(request.headers, deps.settings);
    if (!auth.ok) return deniedResponse(auth);
    const tenant = request.query?.get('tenant') ?? '';
    if (!tenant) {
      throw new IngestError('TENANT_REQUIRED', 'Name the tenant whose config to change: ?tenant=<id>');
    }
    if (!(await fromStorage(() => deps.stores.tenants.getTenant(tenant), deps.ingest.deadlineMs))) {
      throw new IngestError('TENANT_NOT_FOUND', `There is no tenant "${tenant}"`);
    }
    const body = await readJson(request, MAX_CONFIG_BODY_BYTES);
    const ifMatch = request.headers.get('if-match') ?? undefined;
    const saved = await fromStorage(() => write(tenant, body, ifMatch));
    return {
      status: 200,
      headers: { etag: saved.etag },
      jsonBody: { version: saved.version, ...saved.config },
    };
  });
}

/** A small JSON request body, read with its size capped while it arrives. */
async function readJson(request: ApiRequest, maxBytes: number): Promise<unknown> {
  checkDeclaredLength(request.headers, maxBytes);
  const text = request.body
    ? await readDecoded(request.body, { gzip: false, maxBodyBytes: maxBytes, maxInflatedBytes: maxBytes })
    : Buffer.alloc(0);
  try {
    return JSON.parse(text.toString('utf8'));
  } catch {
    throw new IngestError('BODY_MALFORMED', 'The body must be the config as a JSON object');
  }
}
