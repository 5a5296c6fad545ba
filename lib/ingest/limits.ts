import type { Settings } from '../config/index.js';

/** The configurable ingest limits (DESIGN.md: 1 MiB as sent, 8 MiB inflated, 5,000 events, 32 KiB, depth 16). */
export interface Limits {
  maxBodyBytes: number;
  maxInflatedBytes: number;
  maxEvents: number;
  maxEventBytes: number;
  maxDepth: number;
}

export function limitsFrom(settings: Settings): Limits {
  return {
    maxBodyBytes: settings.INGEST_MAX_BODY_BYTES,
    maxInflatedBytes: settings.INGEST_MAX_INFLATED_BYTES,
    maxEvents: settings.INGEST_MAX_EVENTS,
    maxEventBytes: settings.INGEST_MAX_EVENT_BYTES,
    maxDepth: settings.INGEST_MAX_DEPTH,
  };
}
