import { gunzipSync } from 'node:zlib';

/** One Event Hubs message as the landing function receives it. */
export interface LandingMessage {
  body: Buffer;
  sequenceNumber: number;
  enqueuedTimeMs: number;
  properties: Record<string, unknown>;
}

export type DecodeErrorCode =
  | 'NOT_INGEST_FORMAT'
  | 'BODY_UNDECODABLE'
  | 'TENANT_MISSING'
  | 'COUNT_MISMATCH'
  | 'LINE_MALFORMED';

export type Decoded =
  /**
   * `ndjson`: one JSON object per line, each line ending in a newline; `ids`: the id sidecar lines
   * of those events (each event's id as ingest wrote it, one per line).
   */
  | { ok: true; tenant: string; ndjson: Buffer; lines: number; ids: Buffer }
  | { ok: false; code: DecodeErrorCode; reason: string };

const tenantPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** A packed body is ~256 KiB of gzip; anything inflating past this is not ours. */
const maxInflatedBytes = 64 * 1024 * 1024;
const newline = 0x0a;
const quote = 0x22;
const backslash = 0x5c;
const closeBrace = 0x7d;
const idPrefix = Buffer.from('{"id":"');

/**
 * Unpacks a message into NDJSON lines of one tenant. Landing takes only what ingest publishes:
 * gzip NDJSON packs with the `tenant`, `count`, `contentType` and `contentEncoding` properties,
 * each line an event object that starts with its id and carries the pack's tenant. Anything else
 * (another producer on the hub, a corrupted body) is refused with a reason and dead-lettered.
 * Lines are kept as bytes: landing only appends its own fields, it never re-parses what ingest
 * validated; these checks read a few bytes per line.
 */
export function decodeMessage(message: LandingMessage): Decoded {
  const props = message.properties;
  if (props.contentType !== 'application/x-ndjson' || props.contentEncoding !== 'gzip') {
    return {
      ok: false,
      code: 'NOT_INGEST_FORMAT',
      reason:
        'not a pack from ingest: landing takes gzip NDJSON (contentType application/x-ndjson, contentEncoding gzip) with tenant and count properties',
    };
  }
  const tenant = props.tenant;
  if (typeof tenant !== 'string' || !tenantPattern.test(tenant)) {
    return { ok: false, code: 'TENANT_MISSING', reason: 'a pack needs a valid `tenant` property' };
  }
  const count = Number(props.count);
  if (!Number.isInteger(count) || count < 1) {
    return { ok: false, code: 'NOT_INGEST_FORMAT', reason: 'a pack needs its event `count` property' };
  }
  let raw: Buffer;
  try {
    raw = gunzipSync(message.body, { maxOutputLength: maxInflatedBytes });
  } catch (err) {
    return {
      ok: false,
      code: 'BODY_UNDECODABLE',
      reason: `cannot inflate the body: ${(err as Error).message}`,
    };
  }

  const marker = Buffer.from(`,"tenant":${JSON.stringify(tenant)},`);
  const ids: Buffer[] = [];
  let lines = 0;
  for (let start = 0; start < raw.length; ) {
    let end = raw.indexOf(newline, start);
    if (end === -1) end = raw.length;
    lines++;
    const bad = (what: string): Decoded => ({
      ok: false,
      code: 'LINE_MALFORMED',
      reason: `line ${lines} ${what}`,
    });
    if (
      raw[end - 1] !== closeBrace ||
      raw.compare(idPrefix, 0, idPrefix.length, start, start + idPrefix.length) !== 0
    ) {
      return bad('is not an event object that starts with its id');
    }
    let i = start + idPrefix.length;
    while (i < end && raw[i] !== quote) i += raw[i] === backslash ? 2 : 1;
    if (i >= end || i === start + idPrefix.length) return bad('has no string id');
    // Bounded to the line, so the scan stays linear in the body whatever the lines hold.
    if (raw.subarray(i, end).indexOf(marker) === -1) {
      return bad(`does not carry the pack's tenant '${tenant}'`);
    }
    ids.push(raw.subarray(start + idPrefix.length, i + 1));
    start = end + 1;
  }
  if (count !== lines) {
    return {
      ok: false,
      code: 'COUNT_MISMATCH',
      reason: `the count property says ${count}, the body has ${lines} lines`,
    };
  }
  const ndjson =
    raw.length > 0 && raw[raw.length - 1] !== newline ? Buffer.concat([raw, newlineBuffer]) : raw;
  return { ok: true, tenant, ndjson, lines, ids: sidecarLines(ids) };
}

const newlineBuffer = Buffer.from('\n');

/** `id\n` for each id (the slices end with the id's closing quote, which becomes the newline). */
function sidecarLines(ids: Buffer[]): Buffer {
  let size = 0;
  for (const id of ids) size += id.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const id of ids) {
    o += id.copy(out, o, 0, id.length - 1);
    out[o++] = newline;
  }
  return out;
}

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
    o += ndjson.copy(out, o, start, end - 1);
    o += fields.copy(out, o);
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
