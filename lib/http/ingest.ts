import type { ReadableStream } from 'node:stream/web';
import { checkAdminKey, deniedResponse } from '../auth/adminKey.js';
import { IngestError } from '../ingest/errors.js';
import { limitsFrom } from '../ingest/limits.js';
import { ingestPackage } from '../ingest/package.js';
import { eventHubPublisher } from '../ingest/publisher.js';
import {
  errorResponse,
  type IngestDeps,
  ingestEvents,
  type JsonResponse,
  outcomeResponse,
} from '../ingest/request.js';
import type { Services } from '../services/index.js';
import { tenantRules, tenantStores } from '../tenants/index.js';

/** What the ingest HTTP handlers read from a Functions HttpRequest. */
export interface ApiRequest {
  headers: Headers;
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null;
  params?: Record<string, string>;
  query?: URLSearchParams;
}

const deps = new WeakMap<Services, IngestDeps>();

/** Ingest's dependencies from the composition root, built once per process: one producer, reused. */
export function ingestDeps(s: Services): IngestDeps {
  let d = deps.get(s);
  if (!d) {
    d = { publisher: eventHubPublisher(s.eventHubProducer), clock: Date.now, limits: limitsFrom(s.config) };
    deps.set(s, d);
  }
  return d;
}

async function guarded(run: () => Promise<JsonResponse>): Promise<JsonResponse> {
  try {
    return await run();
  } catch (err) {
    return errorResponse(err);
  }
}

function body(request: ApiRequest): AsyncIterable<Uint8Array> | null {
  return request.body as AsyncIterable<Uint8Array> | null;
}

async function rulesFor(request: ApiRequest, s: Services) {
  const stores = tenantStores(s);
  const tenant = await stores.tenants.authenticate(request.headers);
  return { tenant, stores, rules: await tenantRules(tenant, stores, s.config.PRIVACY_SECRET) };
}

/** POST /v1/events */
export function handleEvents(request: ApiRequest, s: Services): Promise<JsonResponse> {
  return guarded(async () => {
    const { rules } = await rulesFor(request, s);
    return outcomeResponse(
      await ingestEvents({ headers: request.headers, body: body(request) }, rules, ingestDeps(s)),
    );
  });
}

/** POST /v1/packages */
export function handlePostPackage(request: ApiRequest, s: Services): Promise<JsonResponse> {
  return guarded(async () => {
    const { rules, stores } = await rulesFor(request, s);
    const stats = await ingestPackage({ headers: request.headers, body: body(request) }, rules, {
      ...ingestDeps(s),
      maxPackageBytes: s.config.INGEST_MAX_PACKAGE_BYTES,
      save: (st) => stores.packages.save(st),
    });
    return { ...outcomeResponse(stats), headers: { location: `v1/packages/${stats.id}` } };
  });
}

/** GET /v1/packages/{id} (the tenant's own packages only) */
export function handleGetPackage(request: ApiRequest, s: Services): Promise<JsonResponse> {
  return guarded(async () => {
    const stores = tenantStores(s);
    const tenant = await stores.tenants.authenticate(request.headers);
    const id = request.params?.id ?? '';
    const stats = await stores.packages.get(tenant.id, id);
    if (!stats) throw new IngestError('NOT_FOUND', `No package ${id} for this tenant`);
    return { status: 200, jsonBody: stats };
  });
}

/** GET /v1/config: the tenant's dynamic telemetry; `If-None-Match` with the current ETag gets 304. */
export function handleGetConfig(request: ApiRequest, s: Services): Promise<JsonResponse> {
  return guarded(async () => {
    const stores = tenantStores(s);
    const tenant = await stores.tenants.authenticate(request.headers);
    const current = await stores.config.get(tenant.id);
    const headers = { etag: current.etag, 'cache-control': 'private, max-age=0, must-revalidate' };
    const ifNoneMatch = request.headers.get('if-none-match');
    if (ifNoneMatch?.split(',').some((t) => t.trim() === current.etag || t.trim() === '*')) {
      return { status: 304, headers, jsonBody: undefined };
    }
    return { status: 200, headers, jsonBody: { version: current.version, ...current.config } };
  });
}

/** PUT /v1/config?tenant=<id> with the admin key: replaces the config and bumps its version. */
export function handlePutConfig(request: ApiRequest, s: Services): Promise<JsonResponse> {
  return guarded(async () => {
    const auth = checkAdminKey(request.headers, s.config);
    if (!auth.ok) return deniedResponse(auth);
    const tenantId = request.query?.get('tenant') ?? '';
    const stores = tenantStores(s);
    if (!tenantId || !(await stores.tenants.getTenant(tenantId))) {
      throw new IngestError('NOT_FOUND', `Unknown tenant "${tenantId}": pass ?tenant=<id>`);
    }
    let input: unknown;
    try {
      input = JSON.parse(await new Response(request.body as ReadableStream<Uint8Array> | null).text());
    } catch {
      throw new IngestError('BODY_MALFORMED', 'The body must be the config as JSON');
    }
    const saved = await stores.config.put(tenantId, input, request.headers.get('if-match') ?? undefined);
    return {
      status: 200,
      headers: { etag: saved.etag },
      jsonBody: { version: saved.version, ...saved.config },
    };
  });
}
