import type { ReadableStream } from 'node:stream/web';
import { checkAdminKey } from '../auth/adminKey.js';
import { deniedResponse } from '../auth/apiKey.js';
import { IngestError } from '../ingest/errors.js';
import type { HttpDeps } from './deps.js';
import type { ApiRequest, RequestLog } from './request.js';
import { guarded, type JsonResponse } from './responses.js';
import { callerTenant } from './tenant.js';

/** GET /v1/config: the tenant's dynamic telemetry; `If-None-Match` with the current ETag gets 304. */
export function handleGetConfig(request: ApiRequest, deps: HttpDeps, log: RequestLog): Promise<JsonResponse> {
  return guarded(log, async () => {
    const caller = await callerTenant(request, deps);
    if ('denied' in caller) return caller.denied;
    const current = await deps.stores.config.get(caller.tenant.id);
    const headers = { etag: current.etag, 'cache-control': 'private, max-age=0, must-revalidate' };
    const ifNoneMatch = request.headers.get('if-none-match');
    if (ifNoneMatch?.split(',').some((t) => t.trim() === current.etag || t.trim() === '*')) {
      return { status: 304, headers, jsonBody: undefined };
    }
    return { status: 200, headers, jsonBody: { version: current.version, ...current.config } };
  });
}

/** PUT /v1/config?tenant=<id> with the admin key: replaces the config and bumps its version. */
export function handlePutConfig(request: ApiRequest, deps: HttpDeps, log: RequestLog): Promise<JsonResponse> {
  return guarded(log, async () => {
    const auth = checkAdminKey(request.headers, deps.settings);
    if (!auth.ok) return deniedResponse(auth);
    const tenantId = request.query?.get('tenant') ?? '';
    if (!tenantId || !(await deps.stores.tenants.getTenant(tenantId))) {
      throw new IngestError('NOT_FOUND', `Unknown tenant "${tenantId}": pass ?tenant=<id>`);
    }
    let input: unknown;
    try {
      input = JSON.parse(await new Response(request.body as ReadableStream<Uint8Array> | null).text());
    } catch {
      throw new IngestError('BODY_MALFORMED', 'The body must be the config as JSON');
    }
    const saved = await deps.stores.config.put(tenantId, input, request.headers.get('if-match') ?? undefined);
    return {
      status: 200,
      headers: { etag: saved.etag },
      jsonBody: { version: saved.version, ...saved.config },
    };
  });
}
