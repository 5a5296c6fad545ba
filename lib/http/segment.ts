import { apiKeyFrom } from '../auth/apiKey.js';
import { basicUser } from '../auth/basic.js';
import { publishEvents } from '../ingest/request.js';
import { isSegmentRoute, readSegment, segmentItems, segmentLimits } from '../segment/request.js';
import { SEGMENT_ROUTES } from '../segment/schema.js';
import type { HttpDeps } from './deps.js';
import type { ApiRequest, RequestLog } from './request.js';
import { guarded, type JsonResponse } from './responses.js';
import { callerRules } from './tenant.js';

const howToSend =
  'as the Segment write key: the user name of "Authorization: Basic" (what the Segment SDKs send), or "writeKey" in the body';

/**
 * POST /v1/segment/v1/{kind}: Segment's HTTP Tracking API. The write key is a tenant key. A key in
 * the headers is checked before the body is read; a `writeKey` in the body (browser SDK) after
 * reading and parsing it (within Segment's 500 KB cap), before its messages are counted or
 * converted. Answers as Segment's API does, so the SDKs' retry logic
 * holds: 200 when anything was accepted, 400 (not retried) for a body that is not JSON or is over
 * a limit, or when every message was refused, 401/403 for the key, 503 with Retry-After (retried)
 * when Event Hubs or Table storage did not answer.
 */
export async function handleSegment(
  request: ApiRequest,
  deps: HttpDeps,
  log: RequestLog,
): Promise<JsonResponse> {
  const response = await guarded(log, async () => {
    const kind = request.params?.kind ?? '';
    if (!isSegmentRoute(kind)) {
      return {
        status: 404,
        jsonBody: {
          code: 'NOT_FOUND',
          message: `No Segment route /v1/${kind}: use one of ${Object.keys(SEGMENT_ROUTES).join(', ')}`,
        },
      };
    }
    const receivedAt = deps.ingest.clock();
    const limits = segmentLimits(deps.ingest.limits);
    const headerKey = basicUser(request.headers) ?? apiKeyFrom(request.headers);
    const early = headerKey ? await callerRules(request, deps, { key: headerKey, howToSend }) : undefined;
    if (early && 'denied' in early) return early.denied;
    const payload = await readSegment(request, kind, limits, receivedAt);
    const caller = early ?? (await callerRules(request, deps, { key: payload.writeKey, howToSend }));
    if ('denied' in caller) return caller.denied;
    const work = publishEvents(segmentItems(payload, limits), caller.rules, deps.ingest, {
      now: receivedAt,
      limits,
      escapeFree: payload.escapeFree,
    });
    const outcome = await (deps.quality?.track(caller.rules.tenant, work) ?? work);
    const accepted = outcome.accepted > 0 || outcome.rejected === 0;
    return { status: accepted ? 200 : 400, jsonBody: { success: accepted, ...outcome } };
  });
  // Segment answers 400 to an oversized body or an encoding it cannot read: its SDKs drop such a
  // batch instead of retrying it forever.
  return response.status === 413 || response.status === 415 ? { ...response, status: 400 } : response;
}
