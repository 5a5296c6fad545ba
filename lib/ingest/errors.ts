/**
 * Stable error codes of the ingest API. Clients and dashboards key on these; the messages are for
 * people. Request-level codes carry an HTTP status; event-level codes appear in `errors[]`.
 */
export const requestErrors = {
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  FORBIDDEN: 403,
  BODY_TOO_LARGE: 413,
  INFLATED_TOO_LARGE: 413,
  COMPRESSION_RATIO_TOO_HIGH: 413,
  TOO_MANY_EVENTS: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNSUPPORTED_ENCODING: 415,
  BODY_MALFORMED: 400,
  BODY_NOT_UTF8: 400,
  BODY_SHAPE: 400,
  NO_EVENTS: 400,
  TOO_MANY_BLANK_LINES: 400,
  TOO_MANY_REJECTED: 400,
  PACKAGE_HEADER: 400,
  CONFIG_INVALID: 400,
  PRECONDITION_FAILED: 412,
  PACKAGE_ID_INVALID: 400,
  IDEMPOTENCY_KEY_INVALID: 400,
  PACKAGE_IN_PROGRESS: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  TENANT_REQUIRED: 400,
  NOT_FOUND: 404,
  TENANT_NOT_FOUND: 404,
  PUBLISH_UNAVAILABLE: 503,
  STORAGE_UNAVAILABLE: 503,
} as const;
export type RequestErrorCode = keyof typeof requestErrors;

export type EventErrorCode =
  | 'EVENT_MALFORMED'
  | 'EVENT_NOT_UTF8'
  | 'EVENT_NOT_OBJECT'
  | 'EVENT_TOO_LARGE'
  | 'IDENTIFIER_TOO_LONG'
  | 'EVENT_TOO_DEEP'
  | 'MISSING_FIELD'
  | 'UNKNOWN_FIELD'
  | 'INVALID_FIELD'
  | 'INVALID_NAME'
  | 'TIME_INVALID'
  | 'TIME_TOO_OLD'
  | 'TIME_IN_FUTURE'
  | 'INVALID_DATA';

/** One rejected event: where it was (`index` in the request, or line number in a package) and why. */
export interface EventError {
  index: number;
  code: EventErrorCode;
  /** JSON path inside the event, e.g. `core.deviceId`; empty for the whole event. */
  path: string;
  message: string;
}

/** A failure of the whole request; `status` follows from the code. */
export class IngestError extends Error {
  readonly status: number;
  constructor(
    readonly code: RequestErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    cause?: unknown,
  ) {
    super(message, { cause });
    this.name = 'IngestError';
    this.status = requestErrors[code];
  }
}

export function errorBody(err: IngestError): { code: string; message: string } {
  return { code: err.code, message: err.message };
}
