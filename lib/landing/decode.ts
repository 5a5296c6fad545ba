import { gunzipSync } from 'node:zlib';

/** One Event Hubs message as the landing function receives it. */
export interface LandingMessage {
  body: Buffer;
  sequenceNumber: number;
  enqueuedTimeMs: number;
  properties: Record<string, unknown>;
}

export type Decoded =
  /** `ndjson`: one JSON object per line, each line ending in a newline. */
  | { ok: true; tenant: string; ndjson: Buffer; lines: number }
  | { ok: false; code: 'BODY_UNDECODABLE' | 'TENANT_MISSING' | 'COUNT_MISMATCH'; reason: string };

const tenantPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A packed body is ~256 KiB of gzip; anything inflating past this is not ours. */
const maxInflatedBytes = 64 * 1024 * 1024;

/**
 * Unpacks a message into NDJSON lines of one tenant: the gzip NDJSON packs ingest produces
 * (properties `tenant`, `count`, `contentType`, `contentEncoding`), or a plain JSON object from
 * another producer (tenant from the `tenant` property or field). Lines are kept as text: landing
 * only appends its own fields, it never re-parses what ingest validated.
 */
export function decodeMessage(message: LandingMessage): Decoded {
  const props = message.properties;
  const encoding =
    typeof props.contentEncoding === 'string' ? props.contentEncoding.toLowerCase() : undefined;
  let raw: Buffer;
  try {
    raw =
      encoding === 'gzip' ? gunzipSync(message.body, { maxOutputLength: maxInflatedBytes }) : message.body;
  } catch (err) {
    return {
      ok: false,
      code: 'BODY_UNDECODABLE',
      reason: `cannot inflate the body: ${(err as Error).message}`,
    };
  }

  if (props.contentType === 'application/x-ndjson') {
    const tenant = props.tenant;
    if (typeof tenant !== 'string' || !tenantPattern.test(tenant)) {
      return { ok: false, code: 'TENANT_MISSING', reason: 'a packed body needs a valid `tenant` property' };
    }
    // Check the line structure on the bytes; the JSON inside was validated by ingest.
    let lines = 0;
    for (let start = 0; start < raw.length; ) {
      let end = raw.indexOf(newline, start);
      if (end === -1) end = raw.length;
      if (raw[start] !== openBrace || raw[end - 1] !== closeBrace) {
        return { ok: false, code: 'BODY_UNDECODABLE', reason: `line ${lines + 1} is not a JSON object` };
      }
      lines++;
      start = end + 1;
    }
    if (props.count !== undefined && Number(props.count) !== lines) {
      return {
        ok: false,
        code: 'COUNT_MISMATCH',
        reason: `the count property says ${props.count}, the body has ${lines} lines`,
      };
    }
    const ndjson =
      raw.length > 0 && raw[raw.length - 1] !== newline ? Buffer.concat([raw, newlineBuffer]) : raw;
    return { ok: true, tenant, ndjson, lines };
  }

  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return {
      ok: false,
      code: 'BODY_UNDECODABLE',
      reason: 'the body is neither a packed NDJSON body nor JSON',
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'BODY_UNDECODABLE', reason: 'a plain JSON body must be one event object' };
  }
  const tenant = typeof props.tenant === 'string' ? props.tenant : (value as { tenant?: unknown }).tenant;
  if (typeof tenant !== 'string' || !tenantPattern.test(tenant)) {
    return { ok: false, code: 'TENANT_MISSING', reason: 'no valid tenant in the `tenant` property or field' };
  }
  const event = value as Record<string, unknown>;
  const line = JSON.stringify({
    ...event,
    tenant,
    receivedAt: event.receivedAt ?? new Date(message.enqueuedTimeMs).toISOString(),
  });
  return { ok: true, tenant, ndjson: Buffer.from(`${line}\n`), lines: 1 };
}

const newline = 0x0a;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const newlineBuffer = Buffer.from('\n');

/**
 * Appends the landing fields to every line of an NDJSON buffer, working on the bytes: landing
 * never re-parses what ingest validated. Later keys win in JSON.parse, so these fields override
 * any a client sent under the same names.
 */
export function stampLines(ndjson: Buffer, lines: number, fields: Buffer): Buffer {
  // `fields` is `,"k":v,...}`: it replaces each line's closing brace.
  const out = Buffer.allocUnsafe(ndjson.length + lines * (fields.length - 1));
  let o = 0;
  for (let start = 0; start < ndjson.length; ) {
    const end = ndjson.indexOf(newline, start);
    const close = end - 1; // the line's '}'
    if (close - start === 1) {
      out[o++] = openBrace; // '{}': no comma before the first field
      o += fields.copy(out, o, 1);
    } else {
      o += ndjson.copy(out, o, start, close);
      o += fields.copy(out, o);
    }
    out[o++] = newline;
    start = end + 1;
  }
  return o === out.length ? out : out.subarray(0, o);
}

export function landingFields(enqueuedAtIso: string, partition: string, sequenceNumber: number): Buffer {
  return Buffer.from(
    `,"enqueuedAt":"${enqueuedAtIso}","partition":"${partition}","sequenceNumber":${sequenceNumber}}`,
  );
}
