import { IngestError } from '../ingest/errors.js';
import { ingestPackage } from '../ingest/package.js';
import { PACKAGE_ID_PATTERN } from '../ingest/packageStore.js';
import type { HttpDeps } from './deps.js';
import type { ApiRequest, RequestLog } from './request.js';
import { guarded, type JsonResponse, outcomeResponse } from './responses.js';
import { fromStorage } from './storage.js';
import { callerRules, callerTenant } from './tenant.js';

/** POST /v1/packages */
export function handlePostPackage(
  request: ApiRequest,
  deps: HttpDeps,
  log: RequestLog,
): Promise<JsonResponse> {
  return guarded(log, async () => {
    const caller = await callerRules(request, deps);
    if ('denied' in caller) return caller.denied;
    const { packages } = deps;
    const { stats, replayed } = await ingestPackage(request, caller.rules, {
      ...deps.ingest,
      maxPackageBytes: deps.settings.INGEST_MAX_PACKAGE_BYTES,
      packages: {
        find: (tenant, id) => fromStorage(() => packages.find(tenant, id), deps.ingest.deadlineMs),
        claim: (st, etag) => fromStorage(() => packages.claim(st, etag)),
        save: (st) => fromStorage(() => packages.save(st)),
      },
      warn: (message, err) => log.warn(`invocation ${log.invocationId}: ${message}:`, err),
    });
    if (!replayed) deps.quality?.record(caller.rules.tenant, stats);
    // Housekeeping on the upload path (at most hourly): expired statistics go; a failure only warns.
    await deps.packages
      .expire()
      .catch((err: unknown) =>
        log.warn(`invocation ${log.invocationId}: expiring package statistics failed:`, err),
      );
    const headers: Record<string, string> = { location: packageLocation(request, stats.id) };
    if (replayed) headers['idempotent-replayed'] = 'true';
    return { ...outcomeResponse(stats), headers };
  });
}

/** GET /v1/packages/{id} (the tenant's own packages only) */
export function handleGetPackage(
  request: ApiRequest,
  deps: HttpDeps,
  log: RequestLog,
): Promise<JsonResponse> {
  return guarded(log, async () => {
    const caller = await callerTenant(request, deps);
    if ('denied' in caller) return caller.denied;
    const id = request.params?.id ?? '';
    if (!PACKAGE_ID_PATTERN.test(id)) {
      throw new IngestError(
        'PACKAGE_ID_INVALID',
        'A package id is what POST /v1/packages answered (letters, digits and dashes, at most 64): check the URL',
      );
    }
    const stats = await fromStorage(() => deps.packages.get(caller.tenant.id, id), deps.ingest.deadlineMs);
    if (!stats) throw new IngestError('NOT_FOUND', `No package ${id} for this tenant`);
    return { status: 200, jsonBody: stats };
  });
}

/**
 * Where GET finds a package: the request's own path plus the id, so it resolves under any route
 * prefix (`/api/v1/packages/<id>` with the default `api`).
 */
function packageLocation(request: ApiRequest, id: string): string {
  const path = request.url ? new URL(request.url).pathname.replace(/\/+$/, '') : '/api/v1/packages';
  return `${path}/${id}`;
}
