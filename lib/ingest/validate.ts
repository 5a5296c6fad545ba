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
  type Precheck,
  precheckFor,
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

// Local copies of the schema's limits, read several times per event: a module constant is cheaper
// than an imported binding re-exported through lib/schema/index.ts (a getter call under tsx).
const MAX_ID = MAX_ID_LENGTH;
const MAX_CORE_VALUE = MAX_CORE_VALUE_LENGTH;
const MAX_CUSTOM = MAX_CUSTOM_KEYS;
const MAX_CUSTOM_KEY = MAX_CUSTOM_KEY_LENGTH;
const ISO_TIME = ISO_TIME_PATTERN;

const userKinds = new Set(['external', 'internal', 'test']);
/** Keys that are harmless in JSON but turn into prototype changes in naive merges downstream. */
const unsafeKeys = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What an event name implies, worked out once per distinct name (names have low cardinality). */
interface NameInfo {
  valid: boolean;
  model: z.ZodType | undefined;
  precheck: Precheck | undefined;
}

const NAME_MEMO_LIMIT = 10_000;
const names = new Map<string, NameInfo>();

function nameInfo(name: string): NameInfo {
  let info = names.get(name);
  if (!info) {
    const model = dataModelFor(name);
    info = { valid: EVENT_NAME_PATTERN.test(name), model, precheck: model && precheckFor(model) };
    // Bounded: clients control names, so the memo must not grow without limit.
    if (names.size >= NAME_MEMO_LIMIT) names.clear();
    names.set(name, info);
  }
  return info;
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
  const info = typeof value.name === 'string' ? nameInfo(value.name) : undefined;
  const model = info?.model;
  if (isPlainObject(data) && !model && !withinDepth(data, 2, options.maxDepth)) {
    return fail('EVENT_TOO_DEEP', 'data', `The event nests deeper than ${options.maxDepth} levels`);
  }
  // fastCheck strips unsafe custom keys as it checks them; zod sees them stripped too.
  let event = info?.valid ? fastCheck(value, info) : undefined;
  if (!event) {
    if (isPlainObject(value.custom)) stripUnsafe(value.custom);
    const checked = zodCheck(value, model);
    if (!checked.ok) return checked;
    event = checked.event;
  }
  return checkTime(event, value.time as string | number, options.now);
}

/** The common valid case, checked by hand; `info` is the (already valid) name's. */
function fastCheck(v: Record<string, unknown>, info: NameInfo): ValidEvent | undefined {
  const { id, name, time, core, data, custom } = v;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID)) return;
  // NaN unless the time is canonical ISO UTC, whose instant is then known without Date.parse.
  let timeMs = Number.NaN;
  if (typeof time === 'string') {
    timeMs = canonicalUtcMs(time);
    if (Number.isNaN(timeMs) && !ISO_TIME.test(time)) return;
  } else if (typeof time !== 'number' || !Number.isInteger(time) || time < 0) return;
  else timeMs = time;
  if (!isPlainObject(core) || typeof core.deviceId !== 'string') return;
  for (const key in core) {
    const field = core[key];
    // A switch on the key: interned strings compare by identity, cheaper than a Set lookup.
    switch (key) {
      case 'deviceId':
      case 'userId':
      case 'sessionId':
      case 'os':
      case 'osVersion':
      case 'app':
      case 'appVersion':
      case 'locale':
        if (field === undefined) continue;
        if (typeof field !== 'string' || field.length === 0 || field.length > MAX_CORE_VALUE) return;
        continue;
      case 'userKind':
        if (field !== undefined && !userKinds.has(field as string)) return;
        continue;
      default:
        return;
    }
  }
  if (custom !== undefined) {
    if (!isPlainObject(custom)) return;
    let count = 0;
    for (const key in custom) {
      if (unsafeKeys.has(key)) {
        delete custom[key];
        continue;
      }
      if (++count > MAX_CUSTOM || key.length === 0 || key.length > MAX_CUSTOM_KEY) return;
      const field = custom[key];
      if (
        typeof field !== 'string' &&
        typeof field !== 'boolean' &&
        !(typeof field === 'number' && Number.isFinite(field))
      )
        return;
    }
  }
  const { model, precheck } = info;
  if (model) {
    if (!(precheck ? precheck(data) : model.safeParse(data).success)) return;
  } else if (data !== undefined && !isPlainObject(data)) return;
  return {
    id: id as string | undefined,
    name: name as string,
    timeMs,
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
    event: { id: e.id, name: e.name, timeMs: Number.NaN, time: '', core: e.core, data, custom: e.custom },
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

/** `event.timeMs` is the instant when the fast path already knows it (canonical UTC), else NaN. */
function checkTime(event: ValidEvent, time: string | number, now: number): Validation {
  const canonical = typeof time === 'string' && !Number.isNaN(event.timeMs);
  const ms = canonical ? event.timeMs : typeof time === 'number' ? time : Date.parse(time);
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
  event.time = canonical ? (time as string) : new Date(ms).toISOString();
  return { ok: true, event };
}

const monthDays = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/**
 * The instant of a time that is already what `toISOString` prints (`YYYY-MM-DDTHH:mm:ss.sssZ`,
 * every field in range), else NaN. The common case so skips the ISO regex, `Date.parse` and a Date
 * round-trip; anything else, such as `02-30` (which Date.parse rolls over to March), is normalised
 * by the slow path instead. Exported for the property test against `Date.parse`.
 */
export function canonicalUtcMs(s: string): number {
  if (
    s.length !== 24 ||
    s.charCodeAt(4) !== 45 /* - */ ||
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 /* T */ ||
    s.charCodeAt(13) !== 58 /* : */ ||
    s.charCodeAt(16) !== 58 ||
    s.charCodeAt(19) !== 46 /* . */ ||
    s.charCodeAt(23) !== 90 /* Z */
  )
    return Number.NaN;
  // A non-digit makes its field -1, which the range checks below reject.
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  const millis = digits(s, 20, 3);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > monthDays[month]!) return Number.NaN;
  if (month === 2 && day === 29 && (year % 4 !== 0 || (year % 100 === 0 && year % 400 !== 0)))
    return Number.NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || millis < 0)
    return Number.NaN;
  // Events of one request share a few dates: remember the last one's day number.
  const date = year * 10_000 + month * 100 + day;
  if (date !== lastDate) {
    lastDays = daysFromCivil(year, month, day);
    lastDate = date;
  }
  return lastDays * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis;
}

let lastDate = -1;
let lastDays = 0;

/** The decimal number in `s[at, at + n)`, or -1 if any of those characters is not a digit. */
function digits(s: string, at: number, n: number): number {
  let value = 0;
  for (let i = at; i < at + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Whether a container and everything in it stay within `max` levels; strips unsafe keys on the way. */
function withinDepth(node: Record<string, unknown> | unknown[], level: number, max: number): boolean {
  if (level > max) return false;
  if (Array.isArray(node)) {
    for (const item of node) if (!childWithin(item, level + 1, max)) return false;
    return true;
  }
  for (const key in node) {
    if (unsafeKeys.has(key)) delete node[key];
    else if (!childWithin(node[key], level + 1, max)) return false;
  }
  return true;
}

/** Scalars are always within depth; containers are checked at their own level. */
function childWithin(item: unknown, level: number, max: number): boolean {
  return (
    typeof item !== 'object' || item === null || withinDepth(item as Record<string, unknown>, level, max)
  );
}

function stripUnsafe(node: Record<string, unknown>): void {
  for (const key in node) if (unsafeKeys.has(key)) delete node[key];
}

function fail(code: EventErrorCode, path: string, message: string): Validation {
  return { ok: false, error: { code, path, message } };
}
