import type { z } from 'zod';
import {
  type Core,
  CoreSchema,
  type Custom,
  dataModelFor,
  EVENT_NAME_PATTERN,
  ISO_TIME_PATTERN,
  MAX_CORE_VALUE_LENGTH,
  MAX_CUSTOM_KEY_LENGTH,
  MAX_CUSTOM_KEYS,
  MAX_ID_LENGTH,
  type Precheck,
  precheckFor,
} from '../schema/index.js';
import { fail, type Validation, type ValidEvent } from './event.js';
import { canonicalUtcMs } from './eventTime.js';
import { isPlainObject, unsafeKeys } from './structure.js';

// Local copies of the schema's limits, read several times per event: a module constant is cheaper
// than an imported binding re-exported through lib/schema/index.ts (a getter call under tsx).
const MAX_ID = MAX_ID_LENGTH;
const MAX_CORE_VALUE = MAX_CORE_VALUE_LENGTH;
const MAX_CUSTOM = MAX_CUSTOM_KEYS;
const MAX_CUSTOM_KEY = MAX_CUSTOM_KEY_LENGTH;
const ISO_TIME = ISO_TIME_PATTERN;

const userKinds = new Set(['external', 'internal', 'test']);
const coreKeys: ReadonlySet<string> = new Set(Object.keys(CoreSchema.shape));

/** What an event name implies, worked out once per distinct name (names have low cardinality). */
export interface NameInfo {
  valid: boolean;
  model: z.ZodType | undefined;
  precheck: Precheck | undefined;
}

const NAME_MEMO_LIMIT = 10_000;
const names = new Map<string, NameInfo>();

export function nameInfo(name: string): NameInfo {
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

/** The common valid case, checked by hand; `info` is the (already valid) name's. */
export function fastCheck(v: Record<string, unknown>, info: NameInfo): ValidEvent | undefined {
  // Only the envelope's fields: anything else goes to zod, which names it (UNKNOWN_FIELD).
  for (const key in v) {
    switch (key) {
      case 'id':
      case 'name':
      case 'time':
      case 'core':
      case 'data':
      case 'custom':
        continue;
      default:
        return;
    }
  }
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

/**
 * The cheap rejection of an event that lacks a required top-level field while everything before
 * it (in the envelope's order: id, name, time, core) is well-formed and it has no unknown field:
 * exactly zod's first issue (a property test checks it), at a fraction of zod's cost on failure,
 * so a body of `{}` lines costs little. Undefined means "ask zod".
 */
export function missingRequired(v: Record<string, unknown>): Validation | undefined {
  for (const key in v) {
    switch (key) {
      case 'id':
      case 'name':
      case 'time':
      case 'core':
      case 'data':
      case 'custom':
        continue;
      default:
        return;
    }
  }
  const { id, name, time, core } = v;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID)) return;
  // zod reports an unknown field anywhere first (zodCheck's firstIssue): core is the only other place.
  if (isPlainObject(core)) for (const key in core) if (!coreKeys.has(key)) return;
  if (name === undefined) return fail('MISSING_FIELD', 'name', 'name is required');
  if (typeof name !== 'string' || !EVENT_NAME_PATTERN.test(name)) return;
  if (time === undefined) return fail('MISSING_FIELD', 'time', 'time is required');
  if (
    typeof time === 'string' ? !ISO_TIME.test(time) : !(Number.isSafeInteger(time) && (time as number) >= 0)
  )
    return;
  if (core === undefined) return fail('MISSING_FIELD', 'core', 'core is required');
  return;
}
