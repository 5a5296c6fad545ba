import type { BodyItem } from '../ingest/body.js';
import { envelopeName } from '../ingest/eventName.js';

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
}

interface Scope {
  name?: string;
}

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

/** Trace and span ids as hex, whichever encoding carried them; undefined when empty. */
function hexId(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v.toLowerCase();
  if (v instanceof Uint8Array) return v.length === 0 ? undefined : Buffer.from(v).toString('hex');
  return undefined;
}

/** An AnyValue as JSON: scalars as themselves, arrays and key-value lists as arrays and objects. */
export function anyValue(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Record<string, unknown>;
  // `!= null`: decoded protobuf messages carry the unset members of the oneof as null.
  if (a.stringValue != null) return a.stringValue;
  if (a.boolValue != null) return a.boolValue;
  if (a.intValue != null) return int64Value(a.intValue);
  if (a.doubleValue != null) {
    const d = Number(a.doubleValue);
    // JSON has no NaN or Infinity: kept as their names rather than turned into null.
    return Number.isFinite(d) ? d : String(d);
  }
  if (a.arrayValue != null) {
    const values = (a.arrayValue as { values?: unknown[] } | null)?.values ?? [];
    return values.map((x) => anyValue(x) ?? null);
  }
  if (a.kvlistValue != null) return attributes((a.kvlistValue as { values?: unknown[] } | null)?.values);
  if (a.bytesValue != null) {
    return a.bytesValue instanceof Uint8Array ? Buffer.from(a.bytesValue).toString('base64') : a.bytesValue;
  }
  return undefined;
}

/** A list of KeyValue as an object (a later duplicate key wins, as the OTLP spec allows). */
function attributes(list: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) {
    if (typeof kv !== 'object' || kv === null) continue;
    const { key, value } = kv as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || key === '') continue;
    const converted = anyValue(value);
    if (converted !== undefined) out[key] = converted;
  }
  return out;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The `core` a resource's attributes give (semantic conventions), or undefined without a device. */
function resourceCore(attrs: Record<string, unknown>): Record<string, string> | undefined {
  const deviceId =
    text(attrs['device.id']) ??
    text(attrs['host.id']) ??
    text(attrs['service.instance.id']) ??
    text(attrs['service.name']);
  if (deviceId === undefined) return undefined;
  const core: Record<string, string> = { deviceId };
  const add = (field: string, value: string | undefined) => {
    if (value !== undefined) core[field] = value;
  };
  add('userId', text(attrs['user.id']) ?? text(attrs['enduser.id']));
  add('sessionId', text(attrs['session.id']));
  add('os', text(attrs['os.type']));
  add('osVersion', text(attrs['os.version']));
  add('app', text(attrs['service.name']));
  add('appVersion', text(attrs['service.version']));
  return core;
}

/** Epoch ms of a nanosecond timestamp given as a decimal string, exactly (BigInt division). */
function nanosToIso(nanos: string): string {
  return new Date(Number(BigInt(nanos) / 1_000_000n)).toISOString();
}

/**
 * One log record as an event:
 * - `name`: the record's `eventName`, else the `nameAttribute` attribute, else `log` (made valid);
 * - `time`: `timeUnixNano`, else `observedTimeUnixNano`, else the receive time; the exact
 *   nanoseconds are kept in `data` as decimal strings;
 * - `core` from the resource: `device.id`, else `host.id`, else `service.instance.id`, else
 *   `service.name` → deviceId; `service.name` → app, `service.version` → appVersion, `os.type`,
 *   `os.version`, `user.id` (or `enduser.id`), `session.id`;
 * - `data`: body, severityNumber, severityText, traceId and spanId (hex), attributes, scope.
 */
function logEvent(
  record: unknown,
  core: Record<string, string> | undefined,
  scope: Scope | undefined,
  options: LogsOptions,
): BodyItem {
  if (typeof record !== 'object' || record === null)
    return { error: 'EVENT_MALFORMED', message: 'A log record must be an object' };
  if (!core) {
    return {
      error: 'EVENT_MALFORMED',
      message:
        'The resource has no device: set the resource attribute device.id, host.id, service.instance.id or service.name',
    };
  }
  const r = record as Record<string, unknown>;
  const attrs = attributes(r.attributes);
  const name = text(r.eventName) ?? text(attrs[options.nameAttribute]) ?? 'log';
  const time = int64Text(r.timeUnixNano);
  const observed = int64Text(r.observedTimeUnixNano);
  const at = time ?? observed;
  const data: Record<string, unknown> = {};
  const body = anyValue(r.body);
  if (body !== undefined) data.body = body;
  const severityNumber =
    typeof r.severityNumber === 'number' && r.severityNumber !== 0 ? r.severityNumber : undefined;
  if (severityNumber !== undefined) data.severityNumber = severityNumber;
  const severityText = text(r.severityText);
  if (severityText !== undefined) data.severityText = severityText;
  const traceId = hexId(r.traceId);
  if (traceId !== undefined) data.traceId = traceId;
  const spanId = hexId(r.spanId);
  if (spanId !== undefined) data.spanId = spanId;
  if (time !== undefined) data.timeUnixNano = time;
  if (observed !== undefined) data.observedTimeUnixNano = observed;
  if (Object.keys(attrs).length > 0) data.attributes = attrs;
  const scopeName = text(scope?.name);
  if (scopeName !== undefined) data.scope = scopeName;
  if (at?.startsWith('-')) return { error: 'EVENT_MALFORMED', message: 'timeUnixNano must not be negative' };
  return {
    value: {
      name: envelopeName(name),
      time: at === undefined ? new Date(options.receivedAt).toISOString() : nanosToIso(at),
      core,
      data,
    },
  };
}

/** Every log record of a decoded `ExportLogsServiceRequest`, in order, as an envelope or an error. */
export function logEvents(request: unknown, options: LogsOptions): BodyItem[] {
  const items: BodyItem[] = [];
  const resourceLogs = (request as { resourceLogs?: unknown } | null)?.resourceLogs;
  if (!Array.isArray(resourceLogs)) return items;
  for (const rl of resourceLogs) {
    const resource = (rl as { resource?: { attributes?: unknown } } | null)?.resource;
    const core = resourceCore(attributes(resource?.attributes));
    const scopeLogs = (rl as { scopeLogs?: unknown } | null)?.scopeLogs;
    if (!Array.isArray(scopeLogs)) continue;
    for (const sl of scopeLogs) {
      const scope = (sl as { scope?: Scope } | null)?.scope;
      const records = (sl as { logRecords?: unknown } | null)?.logRecords;
      if (!Array.isArray(records)) continue;
      for (const record of records) items.push(logEvent(record, core, scope ?? undefined, options));
    }
  }
  return items;
}
