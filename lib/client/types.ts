/**
 * The client SDK's own types. They describe the same envelope as the server's zod schema
 * (lib/schema/envelope.ts) but are kept apart on purpose: the client ships to devices and browsers
 * and must not pull in server code, zod or Azure SDKs. test/lib/client checks that what the client
 * builds parses with the server's schema.
 */

export type UserKind = 'external' | 'internal' | 'test';

/** `core` of the common schema: who and where. */
export interface Core {
  deviceId: string;
  userId?: string;
  sessionId?: string;
  os?: string;
  osVersion?: string;
  app?: string;
  appVersion?: string;
  locale?: string;
  userKind?: UserKind;
}

export type CustomValue = string | number | boolean;

/** One event as the client sends it. */
export interface TelemetryEvent {
  id: string;
  name: string;
  /** ISO-8601 UTC. */
  time: string;
  core: Core;
  data?: Record<string, unknown>;
  custom?: Record<string, CustomValue>;
}

/** The tenant's dynamic telemetry, as `GET /api/v1/config` returns it. */
export interface DynamicConfig {
  version: number;
  /** Event names, `prefix.*` or `*` not to send. */
  blocklist: string[];
  /** Share of events to keep, by the same patterns as the blocklist, 0..1. */
  sampling: Record<string, number>;
  uploadIntervalSeconds: number;
  /** The tenant switched telemetry off: nothing is queued or sent. */
  optOut: boolean;
}

/** What became of one batch (for apps that count, and for tests). */
export interface BatchResult {
  channel: string;
  /** Events in the batch. */
  events: number;
  /**
   * `accepted`: the server answered 2xx (some events may still be rejected or dropped, see counts).
   * `rejected`: a 4xx other than 429: not retried. `stored`: parked in the spool or the in-memory
   * store for a later retry. `discarded`: deleted unsent (cap, opt-out).
   */
  outcome: 'accepted' | 'rejected' | 'stored' | 'discarded';
  /** HTTP status, when a request was made. */
  status?: number;
  accepted?: number;
  rejected?: number;
  dropped?: number;
  /** The spool file (Node) or store entry the batch was read from or written to. */
  file?: string;
}

/** One rejected event, as the server words it. */
export interface EventError {
  index: number;
  code: string;
  path: string;
  message: string;
}

/** Counters of one channel since it started. */
export interface ChannelStats {
  /** Events waiting in memory for the next batch. */
  queued: number;
  /** Batches waiting in the spool or the in-memory store. */
  stored: number;
  /** Events the server accepted (2xx and not rejected or dropped by it). */
  delivered: number;
  /** Events the server rejected (4xx, or listed in a 2xx's errors). */
  rejected: number;
  /** Events the client did not send: blocklist, sampling, opt-out, store cap, queue cap. */
  discarded: number;
}
