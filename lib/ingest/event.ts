import type { Core, Custom } from '../schema/index.js';
import type { EventError, EventErrorCode } from './errors.js';

/** An event that passed the envelope, its data model and the time window. */
export interface ValidEvent {
  id: string | undefined;
  name: string;
  /** Event time in epoch ms and as ISO UTC. */
  timeMs: number;
  time: string;
  core: Core;
  data: Record<string, unknown> | undefined;
  custom: Custom | undefined;
}

export type Validation = { ok: true; event: ValidEvent } | { ok: false; error: Omit<EventError, 'index'> };

export function fail(code: EventErrorCode, path: string, message: string): Validation & { ok: false } {
  return { ok: false, error: { code, path, message } };
}
