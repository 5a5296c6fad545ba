import type { Core, CustomValue, TelemetryEvent } from './types.js';

/** The server's envelope rules (DESIGN.md), checked before queuing so a bad event fails at `track`. */
export const EVENT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
export const MAX_CUSTOM_KEYS = 64;
export const MAX_CUSTOM_KEY_LENGTH = 128;
export const MAX_CORE_VALUE_LENGTH = 256;
/** The server's default per-event limit (INGEST_MAX_EVENT_BYTES). */
export const DEFAULT_MAX_EVENT_BYTES = 32 * 1024;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
/** Random bytes drawn 4 KiB at a time: one getRandomValues call per 256 ids instead of one per id. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;

/** 32 random hex characters (128 bits): event and session ids (getRandomValues works in every browser context). */
export function randomId(): string {
  if (poolAt + 16 > pool.length) {
    crypto.getRandomValues(pool);
    poolAt = 0;
  }
  let hex = '';
  for (let i = poolAt; i < poolAt + 16; i++) hex += HEX[pool[i]!];
  poolAt += 16;
  return hex;
}

/** Why a core is unusable, or undefined. */
export function coreProblem(core: Core): string | undefined {
  for (const [field, value] of Object.entries(core)) {
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length < 1 || value.length > MAX_CORE_VALUE_LENGTH)
      return `core.${field} must be a string of 1 to ${MAX_CORE_VALUE_LENGTH} characters`;
  }
  if (!core.deviceId) return 'core.deviceId is required';
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why an event's own parts are unusable, or undefined. */
export function eventProblem(
  name: string,
  data: unknown,
  custom: Record<string, unknown> | undefined,
): string | undefined {
  if (typeof name !== 'string' || !EVENT_NAME_PATTERN.test(name))
    return `name "${String(name).slice(0, 140)}" must be a letter, then letters, digits, _ . - (at most 128)`;
  if (data !== undefined && !isPlainObject(data)) return 'data must be an object';
  if (custom !== undefined) {
    if (!isPlainObject(custom)) return 'custom must be an object';
    const keys = Object.keys(custom);
    if (keys.length > MAX_CUSTOM_KEYS) return `custom has ${keys.length} keys; at most ${MAX_CUSTOM_KEYS}`;
    for (const key of keys) {
      if (key.length < 1 || key.length > MAX_CUSTOM_KEY_LENGTH)
        return `custom key "${key.slice(0, 140)}" must have 1 to ${MAX_CUSTOM_KEY_LENGTH} characters`;
      const value = custom[key];
      const ok =
        typeof value === 'string' ||
        typeof value === 'boolean' ||
        (typeof value === 'number' && Number.isFinite(value));
      if (!ok) return `custom.${key} must be a string, a finite number or a boolean (custom is flat)`;
    }
  }
  return undefined;
}

/** The event time as ISO UTC, from a Date, epoch ms or an ISO string; undefined when unusable. */
export function eventTime(time: Date | number | string | undefined, now: number): string | undefined {
  const ms = time === undefined ? now : time instanceof Date ? time.getTime() : new Date(time).getTime();
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

export function buildEvent(
  name: string,
  core: Core,
  time: string,
  id: string,
  data?: Record<string, unknown>,
  custom?: Record<string, CustomValue>,
): TelemetryEvent {
  const event: TelemetryEvent = { id, name, time, core };
  if (data !== undefined) event.data = data;
  if (custom !== undefined) event.custom = custom;
  return event;
}
