import protobuf from 'protobufjs/minimal.js';
import type { Outcome } from '../ingest/pipeline.js';
import { ExportLogsServiceResponse } from './codec.js';
import type { OtlpEncoding } from './request.js';

/** An OTLP/HTTP answer: its body in the encoding of the request. */
export interface OtlpResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

const contentTypes: Record<OtlpEncoding, string> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** At most this many rejected records are described in `errorMessage`; the count covers all. */
const DESCRIBED_ERRORS = 5;

/**
 * 200 with an `ExportLogsServiceResponse`: `partialSuccess` when some records were rejected (how
 * many, and why the first ones were), empty otherwise, as the OTLP spec asks. Records dropped by
 * the tenant's blocklist, sampling or opt-outs are not rejections: they were handled as asked.
 */
export function otlpSuccess(outcome: Outcome, encoding: OtlpEncoding): OtlpResponse {
  let message: object = {};
  if (outcome.rejected > 0) {
    const described = outcome.errors
      .slice(0, DESCRIBED_ERRORS)
      .map((e) => `record ${e.index}: ${e.code}${e.path ? ` at ${e.path}` : ''}: ${e.message}`)
      .join('; ');
    const more =
      outcome.rejected > DESCRIBED_ERRORS ? `; and ${outcome.rejected - DESCRIBED_ERRORS} more` : '';
    message = {
      partialSuccess: {
        // int64 is a decimal string in OTLP JSON.
        rejectedLogRecords: encoding === 'json' ? String(outcome.rejected) : outcome.rejected,
        errorMessage: `${outcome.rejected} of ${outcome.accepted + outcome.rejected + outcome.dropped} log records rejected: ${described}${more}`,
      },
    };
  }
  const body =
    encoding === 'json' ? JSON.stringify(message) : ExportLogsServiceResponse.encode(message).finish();
  return { status: 200, headers: { 'content-type': contentTypes[encoding] }, body };
}

/** gRPC status codes for the HTTP statuses this route answers (google.rpc.Status.code). */
function grpcCode(status: number): number {
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 403) return 7; // PERMISSION_DENIED
  if (status === 404) return 5; // NOT_FOUND
  if (status === 429) return 8; // RESOURCE_EXHAUSTED
  if (status === 503) return 14; // UNAVAILABLE
  if (status >= 500) return 13; // INTERNAL
  return 3; // INVALID_ARGUMENT
}

/**
 * An error answer as OTLP/HTTP wants it: a google.rpc.Status in the request's encoding, whose
 * message starts with the stable error code. The status and headers (Retry-After on a 503, which
 * the exporters honour) are those of the API's error.
 */
export function otlpError(
  error: { status: number; headers?: Record<string, string>; code: string; message: string },
  encoding: OtlpEncoding,
): OtlpResponse {
  const code = grpcCode(error.status);
  const message = `${error.code}: ${error.message}`;
  // google.rpc.Status { int32 code = 1; string message = 2; }
  const body =
    encoding === 'json'
      ? JSON.stringify({ code, message })
      : protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).finish();
  return {
    status: error.status,
    headers: { ...error.headers, 'content-type': contentTypes[encoding] },
    body,
  };
}
