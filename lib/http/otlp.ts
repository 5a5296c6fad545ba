import { publishEvents } from '../ingest/request.js';
import { type OtlpEncoding, otlpEncoding, readOtlpLogs } from '../otlp/request.js';
import { type OtlpResponse, otlpError, otlpSuccess } from '../otlp/response.js';
import type { HttpDeps } from './deps.js';
import type { ApiRequest, RequestLog } from './request.js';
import { errorResponse, type JsonResponse } from './responses.js';
import { callerRules } from './tenant.js';

/** An API error answer re-encoded for OTLP (its code and message into a google.rpc.Status). */
function asOtlp(response: JsonResponse, encoding: OtlpEncoding): OtlpResponse {
  const { code, message } = response.jsonBody as { code: string; message: string };
  return otlpError({ status: response.status, headers: response.headers, code, message }, encoding);
}

/**
 * POST /v1/otlp/v1/logs: OTLP/HTTP logs, protobuf or JSON, gzip or not, authenticated by the
 * tenant key (`Authorization: Bearer` or `x-api-key`, which every OTLP exporter can send as a
 * header). 200 with partialSuccess when some records were rejected; 400 (not retried) for a body
 * that cannot be decoded; 401/403 for the key; 503 with Retry-After (retried) when Event Hubs or
 * Table storage did not answer.
 */
export async function handleOtlpLogs(
  request: ApiRequest,
  deps: HttpDeps,
  log: RequestLog,
): Promise<OtlpResponse> {
  let encoding: OtlpEncoding = 'json';
  try {
    encoding = otlpEncoding(request.headers.get('content-type'));
    const caller = await callerRules(request, deps);
    if ('denied' in caller) return asOtlp(caller.denied, encoding);
    const receivedAt = deps.ingest.clock();
    const payload = await readOtlpLogs(request, encoding, deps.ingest.limits, {
      nameAttribute: deps.settings.OTLP_EVENT_NAME_ATTRIBUTE,
      receivedAt,
      digest: (content) => caller.rules.pseudonymizer.digest(content),
    });
    const work = publishEvents(payload.items, caller.rules, deps.ingest, {
      now: receivedAt,
      escapeFree: payload.escapeFree,
    });
    return otlpSuccess(await (deps.quality?.track(caller.rules.tenant, work) ?? work), encoding);
  } catch (err) {
    return asOtlp(errorResponse(err, log), encoding);
  }
}
