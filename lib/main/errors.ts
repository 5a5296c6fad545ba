/** Stable codes of main, replay and status; logs, the status endpoint and API clients key on them. */
export const mainErrors = {
  UNKNOWN_PIPELINE: 404,
  REPLAY_INVALID: 400,
  REPLAY_CONFLICT: 409,
  BODY_MALFORMED: 400,
  CURSOR_CONFLICT: 409,
  WATERMARK_UNAVAILABLE: 503,
  PIPELINE_FAILED: 503,
  CONTROL_UNAVAILABLE: 503,
} as const;
export type MainErrorCode = keyof typeof mainErrors;

export class MainError extends Error {
  readonly status: number;
  constructor(
    readonly code: MainErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MainError';
    this.status = mainErrors[code];
  }
}

/** A short, loggable reason for a failed dependency call (Azure SDK errors carry code and status). */
export function describeError(err: unknown): string {
  const e = err as { code?: string; statusCode?: number; message?: string };
  const parts = [e.code, e.statusCode && `HTTP ${e.statusCode}`].filter(Boolean);
  const message = (e.message ?? String(err)).split('\n')[0]!.slice(0, 300);
  return parts.length ? `${parts.join(', ')}: ${message}` : message;
}
