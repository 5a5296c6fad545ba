import { type BodyItem, tooMany } from '../ingest/body.js';
import { envelopeName } from '../ingest/eventName.js';
import { nonEmptyText } from '../ingest/structure.js';

/**
 * OTLP log records in the common envelope. Reads a request decoded from either encoding: JSON
 * (int64 as strings or numbers, ids as hex, bytes as base64) or protobuf (int64 as Long, ids and
 * bytes as Uint8Array). Nanosecond timestamps never go through a Number: they are decimal strings
 * or Longs, divided exactly into milliseconds.
 */

export interface LogsOptions {
  /** The record attribute that names the event when the record has no `eventName`. */
  nameAttribute: string;
  /** Server time of the request, epoch ms: the time of a record that has none. */
  receivedAt: number;
  /** The deepest level a value in `data` may reach (INGEST_MAX_DEPTH, the event being level 1). */
  maxDepth: number;
  /** The most records a request may carry: one more is TOO_MANY_EVENTS, before it is converted. */
  maxRecords: number;
  /** Each record's id is this and its position in the request (see readOtlpLogs). */
  idPrefix: string;
}

/**
 * The record fields kept in `data` next to the record's attributes. An attribute of one of these
 * names is kept as `attribute.<name>`.
 */
const RECORD_FIELDS: ReadonlySet<string> = new Set([
  'body',
  'severityNumber',
  'severityText',
  'traceId',
  'spanId',
  'timeUnixNano',
  'observedTimeUnixNano',
  'scope',
]);

/** The latest instant a Date holds, epoch ms (ECMA-262: 8.64e15). */
const MAX_DATE_MS = 8.64e15;

/** A container nested deeper than the event limit: the record is refused. */
class TooDeep {}
const tooDeep = new TooDeep();

/** An int64 as a decimal string; undefined when absent, zero, or not an integer. */
function int64Text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number') s = Number.isInteger(v) ? BigInt(v).toString() : '';
  else if (typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean };
    if (l.low === 0 && l.high === 0) return undefined;
    // Exact through BigInt, and several times faster than Long#toString.
    const bits = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
    s = (l.unsigned ? bits : BigInt.asIntN(64, bits)).toString();
  } else return undefined;
  return /^-?\d+$/.test(s) && !/^-?0+$/.test(s) ? s : undefined;
}

/** An int64 attribute value: a number when it is exact as one, else its decimal string. */
function int64Value(v: unknown): number | string | undefined {
  if (typeof v === 'number') return v;
  const s = int64Text(v);
  if (s === undefined) {
    if (v === undefined || v === null) return undefined;
    // Zero, or a string that is no integer (kept as sent rather than guessed at).
    return typeof v === 'string' && !/^-?0+$/.test(v) ? v : 0;
  }
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
}

/**
 * A trace (16 bytes) or span (8 bytes) id as lower-case hex, whichever encoding carried it:
 * undefined when absent, empty or all zeros (the spec's invalid id, meaning none); false when it
 * is not an id of that size.
 */
function hexId(v: unknown, bytes: number): string | undefined | false {
  if (v === undefined || v === null) return undefined;
  let hex: string;
  if (typeof v === 'string') {
    if (v === '') return undefined;
    if (v.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(v)) return false;
    hex = v.toLowerCase();
  } else if (v instanceof Uint8Array) {
    if (v.length === 0) return undefined;
    if (v.length !== bytes) return false;
    hex = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
  } else return false;
  return /^0+$/.test(hex) ? undefined : hex;
}

/**
 * An AnyValue as JSON: scalars as themselves, arrays and key-value lists as arrays and objects.
 * `level` is the level the value has in the event if it is a container: one past `maxDepth`
 * throws `tooDeep`, so a hostile nesting costs no more than the limit allows.
 */
const anyValueMembers = [
  'stringValue',
  'boolValue',
  'intValue',
  'doubleValue',
  'arrayValue',
  'kvlistValue',
  'bytesValue',
] as const;

function anyValue(v: unknown, level: number, maxDepth: number): unknown {
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Record<string, unknown>;
  // A decoded protobuf message (an instance of the generated class, not a plain JSON object) names
  // the member read last on the wire in `$case` (scripts/otlp-oneof.mjs); JSON carries the member
  // that is set. `!= null`: unset members of decoded messages are null.
  const kind =
    Object.getPrototypeOf(a) !== Object.prototype && typeof a.$case === 'string'
      ? a.$case
      : anyValueMembers.find((m) => a[m] != null);
  const x = kind === undefined ? undefined : a[kind];
  if (x == null) return undefined;
  switch (kind) {
    case 'stringValue':
    case 'boolValue':
      return x;
    case 'intValue':
      return int64Value(x);
    case 'doubleValue': {
      const d = Number(x);
      // JSON has no NaN or Infinity: kept as their names rather than turned into null.
      return Number.isFinite(d) ? d : String(d);
    }
    case 'arrayValue': {
      if (level > maxDepth) throw tooDeep;
      const values = (x as { values?: unknown }).values;
      if (!Array.isArray(values)) return [];
      const out = new Array<unknown>(values.length);
      for (let i = 0; i < values.length; i++) out[i] = anyValue(values[i], level + 1, maxDepth) ?? null;
      return out;
    }
    case 'kvlistValue': {
      if (level > maxDepth) throw tooDeep;
      const out: Record<string, unknown> = {};
      const list = (x as { values?: unknown }).values;
      if (Array.isArray(list)) {
        for (const kv of list) {
          const key = keyOf(kv);
          if (key === undefined) continue;
          const value = anyValue((kv as { value?: unknown }).value, level + 1, maxDepth);
          // A later duplicate key wins, as the OTLP spec allows.
          if (value !== undefined) out[key] = value;
        }
      }
      return out;
    }
    case 'bytesValue':
      return x instanceof Uint8Array ? Buffer.from(x).toString('base64') : x;
    default:
      // stringValueStrindex (profiles' string table) has no meaning in logs.
      return undefined;
  }
}

/** The key of a KeyValue, or undefined when it is not one. */
function keyOf(kv: unknown): string | undefined {
  if (typeof kv !== 'object' || kv === null) return undefined;
  const key = (kv as { key?: unknown }).key;
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/** An identifier attribute (a string, or an integer some SDKs send) as a string; undefined otherwise. */
function identifier(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return nonEmptyText(value);
}

/**
 * The `core` a resource's attributes give (semantic conventions), or undefined without a device.
 * Only scalar attributes are read: the resource's other attributes are not kept.
 */
function resourceCore(list: unknown): Record<string, string> | undefined {
  if (!Array.isArray(list)) return undefined;
  const attrs: Record<string, string> = {};
  for (const kv of list) {
    const key = keyOf(kv);
    if (key === undefined) continue;
    const v = (kv as { value?: { stringValue?: unknown; intValue?: unknown } | null }).value;
    const value = v?.stringValue != null ? nonEmptyText(v.stringValue) : identifier(int64Value(v?.intValue));
    if (value !== undefined) attrs[key] = value;
  }
  const deviceId =
    attrs['device.id'] ?? attrs['host.id'] ?? attrs['service.instance.id'] ?? attrs['service.name'];
  if (deviceId === undefined) return undefined;
  const core: Record<string, string> = { deviceId };
  const add = (field: string, value: string | undefined) => {
    if (value !== undefined) core[field] = value;
  };
  add('userId', attrs['user.id'] ?? attrs['enduser.id']);
  add('sessionId', attrs['session.id']);
  add('os', attrs['os.type']);
  add('osVersion', attrs['os.version']);
  add('app', attrs['service.name']);
  add('appVersion', attrs['service.version']);
  return core;
}

const malformed = (message: string, path = ''): BodyItem => ({ error: 'EVENT_MALFORMED', message, path });

/**
 * One log record as an event:
 * - `id`: given (the request's digest and the record's position);
 * - `name`: the record's `eventName`, else the `nameAttribute` attribute, else `log` (made valid);
 * - `time`: `timeUnixNano`, else `observedTimeUnixNano`, else the receive time; the exact
 *   nanoseconds are kept in `data` as decimal strings;
 * - `core` from the resource (see resourceCore); the record's own `user.id` (or `enduser.id`)
 *   and `session.id` attributes override the resource's userId and sessionId, and are not kept
 *   in `data`, so they are pseudonymised as identifiers;
 * - `data`: the record's attributes at the top level, where the tenant's privacy policy reaches
 *   them as it does the top-level fields of any event, and body, severityNumber, severityText,
 *   traceId and spanId (hex), timeUnixNano, observedTimeUnixNano and scope (its name).
 */
function logEvent(
  record: unknown,
  core: Record<string, string> | undefined,
  scope: string | undefined,
  receivedIso: string,
  id: string,
  options: LogsOptions,
): BodyItem {
  if (typeof record !== 'object' || record === null) return malformed('A log record must be an object');
  if (!core) {
    return malformed(
      'The resource has no device: set the resource attribute device.id, host.id, service.instance.id or service.name',
    );
  }
  const r = record as Record<string, unknown>;
  const time = int64Text(r.timeUnixNano);
  const observed = int64Text(r.observedTimeUnixNano);
  const timeField = time !== undefined ? 'timeUnixNano' : 'observedTimeUnixNano';
  const at = time ?? observed;
  let iso = receivedIso;
  if (at !== undefined) {
    if (at.charCodeAt(0) === 45 /* - */) return malformed(`${timeField} must not be negative`, timeField);
    // Exact: dropping the last six digits is the integer division by 10^6.
    const ms = at.length > 6 ? Number(at.slice(0, -6)) : 0;
    if (!(ms <= MAX_DATE_MS)) {
      return {
        error: 'TIME_IN_FUTURE',
        path: timeField,
        message: `${timeField} is more than 1 hour after the server time (past the year 275760): send nanoseconds since the Unix epoch`,
      };
    }
    iso = new Date(ms).toISOString();
  }
  const traceId = hexId(r.traceId, 16);
  if (traceId === false)
    return malformed('traceId must be 16 bytes: 32 hexadecimal characters in JSON', 'traceId');
  const spanId = hexId(r.spanId, 8);
  if (spanId === false)
    return malformed('spanId must be 8 bytes: 16 hexadecimal characters in JSON', 'spanId');

  const data: Record<string, unknown> = {};
  let userId: string | undefined;
  let endUserId: string | undefined;
  let sessionId: string | undefined;
  let named: string | undefined;
  const { maxDepth } = options;
  try {
    const body = anyValue(r.body, 3, maxDepth);
    if (body !== undefined) data.body = body;
    const list = r.attributes;
    if (Array.isArray(list)) {
      for (const kv of list) {
        const key = keyOf(kv);
        if (key === undefined) continue;
        const value = anyValue((kv as { value?: unknown }).value, 3, maxDepth);
        if (value === undefined) continue;
        if (key === options.nameAttribute) named = nonEmptyText(value);
        // Identities go to core (pseudonymised there), never to data, whatever their type.
        if (key === 'user.id') userId = identifier(value);
        else if (key === 'enduser.id') endUserId = identifier(value);
        else if (key === 'session.id') sessionId = identifier(value);
        else if (RECORD_FIELDS.has(key)) {
          const renamed = `attribute.${key}`;
          if (!Object.hasOwn(data, renamed)) data[renamed] = value;
        } else data[key] = value;
      }
    }
  } catch (err) {
    if (err !== tooDeep) throw err;
    return {
      error: 'EVENT_TOO_DEEP',
      path: 'data',
      message: `The event nests deeper than ${maxDepth} levels`,
    };
  }
  const severityNumber = r.severityNumber;
  if (typeof severityNumber === 'number' && severityNumber !== 0) data.severityNumber = severityNumber;
  const severityText = nonEmptyText(r.severityText);
  if (severityText !== undefined) data.severityText = severityText;
  if (traceId !== undefined) data.traceId = traceId;
  if (spanId !== undefined) data.spanId = spanId;
  if (time !== undefined) data.timeUnixNano = time;
  if (observed !== undefined) data.observedTimeUnixNano = observed;
  if (scope !== undefined) data.scope = scope;

  const user = userId ?? endUserId;
  let recordCore = core;
  if (user !== undefined || sessionId !== undefined) {
    recordCore = { ...core };
    if (user !== undefined) recordCore.userId = user;
    if (sessionId !== undefined) recordCore.sessionId = sessionId;
  }
  const name = nonEmptyText(r.eventName) ?? named ?? 'log';
  return { value: { id, name: envelopeName(name), time: iso, core: recordCore, data } };
}

/**
 * Every log record of a decoded `ExportLogsServiceRequest`, in order, as an envelope or an error.
 * Throws TOO_MANY_EVENTS at the record past `maxRecords`, before converting it.
 */
export function logEvents(request: unknown, options: LogsOptions): BodyItem[] {
  const items: BodyItem[] = [];
  const resourceLogs = (request as { resourceLogs?: unknown } | null)?.resourceLogs;
  if (!Array.isArray(resourceLogs)) return items;
  const receivedIso = new Date(options.receivedAt).toISOString();
  for (const rl of resourceLogs) {
    const scopeLogs = (rl as { scopeLogs?: unknown } | null)?.scopeLogs;
    if (!Array.isArray(scopeLogs)) continue;
    const resource = (rl as { resource?: { attributes?: unknown } | null }).resource;
    const core = resourceCore(resource?.attributes);
    for (const sl of scopeLogs) {
      const records = (sl as { logRecords?: unknown } | null)?.logRecords;
      if (!Array.isArray(records)) continue;
      const scope = nonEmptyText((sl as { scope?: { name?: unknown } | null }).scope?.name);
      for (const record of records) {
        if (items.length >= options.maxRecords) throw tooMany(options.maxRecords, 'log records');
        items.push(logEvent(record, core, scope, receivedIso, `${options.idPrefix}${items.length}`, options));
      }
    }
  }
  return items;
}
