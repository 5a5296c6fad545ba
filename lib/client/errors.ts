import type { EventError, TelemetryEvent } from './types.js';

/**
 * Stable codes of what the client reports to `onError`. The client never throws into the app
 * after it is created: a telemetry problem must not break the app.
 */
export type TelemetryErrorCode =
  /** `track` got an event the server would reject (name, custom, size): it was not queued. */
  | 'EVENT_INVALID'
  /** The server accepted the batch but rejected some events (`errors`, `events`). */
  | 'EVENTS_REJECTED'
  /** The server refused the whole batch with a 4xx other than 429 (`status`): not retried. */
  | 'REQUEST_REJECTED'
  /** The spool or in-memory store was full: the oldest batches were dropped (`dropped` events). */
  | 'STORE_FULL'
  /** The in-memory queue was full: the oldest events were dropped (`dropped` events). */
  | 'QUEUE_FULL'
  /** A spool file could not be written or read (`cause`). */
  | 'SPOOL_FAILED'
  /** The server's config could not be read or was malformed: the previous one stays in force. */
  | 'CONFIG_FAILED'
  /** The options given to `createTelemetryClient` are unusable (thrown, never reported). */
  | 'OPTIONS_INVALID';

export class TelemetryError extends Error {
  readonly channel?: string;
  readonly status?: number;
  /** Events affected, when the client still has them. */
  readonly events?: TelemetryEvent[];
  readonly errors?: EventError[];
  /** How many events were lost (STORE_FULL, QUEUE_FULL, REQUEST_REJECTED). */
  readonly dropped?: number;

  constructor(
    readonly code: TelemetryErrorCode,
    message: string,
    details: {
      channel?: string;
      status?: number;
      events?: TelemetryEvent[];
      errors?: EventError[];
      dropped?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = 'TelemetryError';
    this.channel = details.channel;
    this.status = details.status;
    this.events = details.events;
    this.errors = details.errors;
    this.dropped = details.dropped;
  }
}
