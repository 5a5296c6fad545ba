import type { z } from 'zod';
import {
  type Core,
  type Custom,
  dataModelFor,
  EnvelopeSchema,
  EVENT_NAME_PATTERN,
  ISO_TIME_PATTERN,
  MAX_CORE_VALUE_LENGTH,
  MAX_CUSTOM_KEY_LENGTH,
  MAX_CUSTOM_KEYS,
  MAX_ID_LENGTH,
} from '../schema/index.js';
import type { EventError, EventErrorCode } from './errors.js';

/** How far from the server's clock an event time may be (DESIGN.md). */
export const MAX_EVENT_AGE_MS = 7 * 24 * 3600 * 1000;
export const MAX_EVENT_LEAD_MS = 3600 * 1000;

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

export interface ValidateOptions {
  /** The server's clock for this request, epoch ms (injected so tests pin it). */
  now: number;
  maxDepth: number;
}

const coreKeys = new Set([
  'deviceId',
  'userId',
  'sessionId',
  'os',
  'osVersion',
  'app',
  'appVersion',
  'locale',
  'userKind',
]);
const userKinds = new Set(['external', 'internal', 'test']);
/** Keys that are harmless in JSON but turn into prototype changes in naive merges downstream. */
const unsafeKeys = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates one parsed event. The zod schemas in lib/schema are the single source of truth: a
 * hand-written check accepts the common valid case quickly (it only ever accepts what zod
 * accepts, which a property test checks), and anything it does not accept goes through zod, whose
 * verdict stands and whose first issue becomes the error.
 */
export function validateEvent(value: unknown, options: ValidateOptions): Validation {
  if (!isPlainObject(value)) {
    return fail('EVENT_NOT_OBJECT', '', 'Each event must be a JSON object');
  }
  // Structural checks zod does not do, before zod sees the value.
  const data = value.data;
  const model = typeof value.name === 'string' ? dataModelFor(value.name) : undefined;
  if (isPlainObject(data) && !model && !withinDepth(data, 2, options.maxDepth)) {
    return fail('EVENT_TOO_DEEP', 'data', `The event nests deeper than ${options.maxDepth} levels`);
  }
  if (isPlainObject(value.custom)) stripUnsafe(value.custom);

  let event = fastCheck(value, model);
  if (!event) {
    const checked = zodCheck(value, model);
    if (!checked.ok) return checked;
    event = checked.event;
  }
  return checkTime(event, value.time as string | number, options.now);
}

function fastCheck(v: Record<string, unknown>, model: z.ZodType | undefined): ValidEvent | undefined {
  const { id, name, time, core, data, custom } = v;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH)) return;
  if (typeof name !== 'string' || !EVENT_NAME_PATTERN.test(name)) return;
  if (typeof time === 'string') {
    if (!ISO_TIME_PATTERN.test(time)) return;
  } else if (typeof time !== 'number' || !Number.isInteger(time) || time < 0) return;
  if (!isPlainObject(core) || typeof core.deviceId !== 'string') return;
  for (const key in core) {
    if (!coreKeys.has(key)) return;
    const field = core[key];
    if (field === undefined) continue;
    if (typeof field !== 'string') return;
    if (
      key === 'userKind' ? !userKinds.has(field) : field.length === 0 || field.length > MAX_CORE_VALUE_LENGTH
    )
      return;
  }
  if (custom !== undefined) {
    if (!isPlainObject(custom)) return;
    let count = 0;
    for (const key in custom) {
      if (++count > MAX_CUSTOM_KEYS || key.length === 0 || key.length > MAX_CUSTOM_KEY_LENGTH) return;
      const field = custom[key];
      if (
        typeof field !== 'string' &&
        typeof field !== 'boolean' &&
        !(typeof field === 'number' && Number.isFinite(field))
      )
        return;
    }
  }
  if (model) {
    if (!model.safeParse(data).success) return;
  } else if (data !== undefined && !isPlainObject(data)) return;
  return {
    id: id as string | undefined,
    name,
    timeMs: 0,
    time: '',
    core: core as Core,
    data: data as Record<string, unknown> | undefined,
    custom: custom as Custom | undefined,
  };
}

function zodCheck(v: Record<string, unknown>, model: z.ZodType | undefined): Validation {
  const envelope = EnvelopeSchema.safeParse(v);
  if (!envelope.success) return fromIssue(envelope.error.issues[0]!, v, 'envelope');
  let data = envelope.data.data;
  if (model) {
    const parsed = model.safeParse(v.data);
    if (!parsed.success) return fromIssue(parsed.error.issues[0]!, v.data, 'data');
    data = parsed.data as Record<string, unknown>;
  }
  const e = envelope.data;
  return {
    ok: true,
    event: { id: e.id, name: e.name, timeMs: 0, time: '', core: e.core, data, custom: e.custom },
  };
}

function fromIssue(issue: z.core.$ZodIssue, input: unknown, where: 'envelope' | 'data'): Validation {
  const segments = where === 'data' ? ['data', ...issue.path.map(String)] : issue.path.map(String);
  const path = segments.join('.');
  const at = path === '' ? 'event' : path;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    return fail(
      'UNKNOWN_FIELD',
      keys[0]!,
      `Unknown field ${keys.join(', ')}: remove it or move it to custom`,
    );
  }
  const given = lookup(input, issue.path);
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && given === undefined) {
    return fail('MISSING_FIELD', path, `${at} is required`);
  }
  const head = segments[0];
  const code: EventErrorCode =
    where === 'data'
      ? 'INVALID_DATA'
      : head === 'name'
        ? 'INVALID_NAME'
        : head === 'time'
          ? 'INVALID_TIME'
          : 'INVALID_FIELD';
  const detail =
    code === 'INVALID_TIME'
      ? 'expected ISO-8601 with a zone (e.g. 2026-11-22T10:00:00.123Z) or epoch milliseconds'
      : issue.message;
  return fail(code, path, `${at}: ${detail}`);
}

function lookup(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const key of path) {
    if (!isPlainObject(node) && !Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, key)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function checkTime(event: ValidEvent, time: string | number, now: number): Validation {
  const ms = typeof time === 'number' ? time : Date.parse(time);
  if (!Number.isFinite(ms)) return fail('INVALID_TIME', 'time', `time: ${String(time)} is not a real date`);
  if (ms < now - MAX_EVENT_AGE_MS) {
    return fail(
      'TIME_TOO_OLD',
      'time',
      'time is more than 7 days before the server time: the event is too old to accept',
    );
  }
  if (ms > now + MAX_EVENT_LEAD_MS) {
    return fail(
      'TIME_IN_FUTURE',
      'time',
      'time is more than 1 hour after the server time: check the device clock',
    );
  }
  event.timeMs = ms;
  event.time = typeof time === 'string' && isCanonicalUtc(time) ? time : new Date(ms).toISOString();
  return { ok: true, event };
}

const monthDays = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Whether a time string is already what `toISOString` would print (`YYYY-MM-DDTHH:mm:ss.sssZ`
 * with every field in range), so the common case skips a Date round-trip (~0.7 µs per event).
 * Anything else, such as `02-30`, which Date.parse rolls over to March, is normalised instead.
 */
function isCanonicalUtc(s: string): boolean {
  if (s.length !== 24 || s.charCodeAt(23) !== 90 /* Z */ || s.charCodeAt(19) !== 46 /* . */) return false;
  const two = (i: number) => (s.charCodeAt(i) - 48) * 10 + s.charCodeAt(i + 1) - 48;
  const month = two(5);
  const day = two(8);
  if (month < 1 || month > 12 || day < 1 || day > monthDays[month]!) return false;
  if (month === 2 && day === 29) {
    const year = two(0) * 100 + two(2);
    if (year % 4 !== 0 || (year % 100 === 0 && year % 400 !== 0)) return false;
  }
  return two(11) <= 23 && two(14) <= 59 && two(17) <= 59;
}

/** Whether a container and everything in it stay within `max` levels; strips unsafe keys on the way. */
function withinDepth(node: Record<string, unknown> | unknown[], level: number, max: number): boolean {
  if (level > max) return false;
  if (Array.isArray(node)) {
    for (const item of node) {
      if (
        typeof item === 'object' &&
        item !== null &&
        !withinDepth(item as Record<string, unknown>, level + 1, max)
      )
        return false;
    }
    return true;
  }
  for (const key in node) {
    if (unsafeKeys.has(key)) {
      delete node[key];
      continue;
    }
    const item = node[key];
    if (
      typeof item === 'object' &&
      item !== null &&
      !withinDepth(item as Record<string, unknown>, level + 1, max)
    )
      return false;
  }
  return true;
}

function stripUnsafe(node: Record<string, unknown>): void {
  for (const key in node) if (unsafeKeys.has(key)) delete node[key];
}

function fail(code: EventErrorCode, path: string, message: string): Validation {
  return { ok: false, error: { code, path, message } };
}
