import { errorBody, IngestError } from '../ingest/errors.js';
import type { Outcome } from '../ingest/pipeline.js';
import { TenantError } from '../tenants/errors.js';
import type { RequestLog } from './request.js';

/** JSON response of the API: status, headers and body. */
export interface JsonResponse {
  status: number;
  headers?: Record<string, string>;
  jsonBody: unknown;
}

/** 202 when anything was accepted (or silently dropped), 400 with the same shape when nothing was. */
export function outcomeResponse(outcome: Outcome): JsonResponse {
  const status = outcome.accepted > 0 || outcome.rejected === 0 ? 202 : 400;
  return { status, jsonBody: outcome };
}

/**
 * The response for a thrown error: an IngestError's or TenantError's status and code, or a 500
 * that leaks nothing. Every 5xx is logged with the invocation id and the cause.
 */
export function errorResponse(err: unknown, log: RequestLog): JsonResponse {
  let response: JsonResponse;
  if (err instanceof IngestError) {
    response = { status: err.status, headers: err.headers, jsonBody: errorBody(err) };
  } else if (err instanceof TenantError) {
    response = { status: err.status, jsonBody: { code: err.code, message: err.message } };
  } else {
    response = {
      status: 500,
      jsonBody: { code: 'INTERNAL', message: 'The request failed unexpectedly; retry later' },
    };
  }
  if (response.status >= 500) {
    const { code } = response.jsonBody as { code: string };
    log.error(`invocation ${log.invocationId}: ${response.status} ${code}:`, err);
  }
  return response;
}

/** Runs a handler body, turning anything it throws into its response. */
export async function guarded(log: RequestLog, run: () => Promise<JsonResponse>): Promise<JsonResponse> {
  try {
    return await run();
  } catch (err) {
    return errorResponse(err, log);
  }
}
