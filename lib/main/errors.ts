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
