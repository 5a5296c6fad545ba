import protobuf from 'protobufjs/minimal.js';
import { type BodyItem, mediaType, parseJson, tooMany } from '../ingest/body.js';
import { IngestError } from '../ingest/errors.js';
import type { Limits } from '../ingest/limits.js';
import { type IngestRequest, readBody } from '../ingest/request.js';
import { escapeFree } from '../ingest/serialize.js';
import { isPlainObject } from '../ingest/structure.js';
import { ExportLogsServiceRequest } from './codec.js';
import { logEvents } from './logs.js';

export type OtlpEncoding = 'protobuf' | 'json';

/** The encoding of an OTLP/HTTP request from its Content-Type (the answer uses the same). */
export function otlpEncoding(contentType: string | null): OtlpEncoding {
  const type = mediaType(contentType);
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  throw new IngestError(
    'UNSUPPORTED_MEDIA_TYPE',
    `Content-Type ${type || '(none)'} is not accepted: OTLP/HTTP sends application/x-protobuf or application/json`,
  );
}

/** An OTLP logs request read, decoded and converted: one item per log record. */
export interface OtlpPayload {
  items: BodyItem[];
  /** No string of the items needs JSON escaping. */
  escapeFree: boolean;
}

// Tags (field number << 3 | wire type 2) of the repeated messages on the way to the log records.
const RESOURCE_LOGS_TAG = (1 << 3) | 2; // ExportLogsServiceRequest.resource_logs = 1
const SCOPE_LOGS_TAG = (2 << 3) | 2; // ResourceLogs.scope_logs = 2
const LOG_RECORDS_TAG = (2 << 3) | 2; // ScopeLogs.log_records = 2

/** What a protobuf ExportLogsServiceRequest holds, counted on the wire. */
export interface LogRecordCounts {
  resourceLogs: number;
  scopeLogs: number;
  logRecords: number;
}

/**
 * How many resources, scopes and log records a protobuf ExportLogsServiceRequest holds, counted
 * on the wire without decoding it (each record is skipped by its length), stopping as soon as one
 * count passes `max`. Decoding first would build every message of a hostile body (millions of
 * empty records, or empty resources, fit the inflated cap) before a count could refuse it. A
 * malformed body throws (protobufjs' RangeError or Error).
 */
export function countLogRecords(bytes: Uint8Array, max: number): LogRecordCounts {
  const r = protobuf.Reader.create(bytes);
  const counts: LogRecordCounts = { resourceLogs: 0, scopeLogs: 0, logRecords: 0 };
  const within = () => counts.resourceLogs <= max && counts.scopeLogs <= max && counts.logRecords <= max;
  // Walks `[r.pos, end)`, calling `inner` on each field of `tag` and skipping every other field.
  const walk = (end: number, tag: number, inner: (end: number) => void) => {
    while (r.pos < end && within()) {
      const t = r.uint32();
      if (t !== tag) {
        r.skipType(t & 7, 0, t >>> 3);
        continue;
      }
      const length = r.uint32();
      const start = r.pos;
      if (start + length > end) throw new RangeError(`a message runs past its end at offset ${start}`);
      inner(start + length);
      r.pos = start + length;
    }
  };
  walk(r.len, RESOURCE_LOGS_TAG, (resourceEnd) => {
    counts.resourceLogs++;
    walk(resourceEnd, SCOPE_LOGS_TAG, (scopeEnd) => {
      counts.scopeLogs++;
      walk(scopeEnd, LOG_RECORDS_TAG, () => {
        counts.logRecords++;
      });
    });
  });
  return counts;
}

function notProtobuf(err: unknown): IngestError {
  return new IngestError(
    'BODY_MALFORMED',
    `The body is not a protobuf ExportLogsServiceRequest (${(err as Error).message})`,
  );
}

/**
 * Reads an OTLP/HTTP logs request (gzip when Content-Encoding says so, within the event limits),
 * decodes it in `encoding` and converts every log record to an envelope. More than
 * `limits.maxEvents` records is TOO_MANY_EVENTS, found before the records are decoded
 * (protobuf) or converted (JSON).
 */
export async function readOtlpLogs(
  request: IngestRequest,
  encoding: OtlpEncoding,
  limits: Limits,
  options: {
    nameAttribute: string;
    receivedAt: number;
    /** The tenant's keyed digest (Pseudonymizer#digest), 32 hex characters. */
    digest: (content: Uint8Array) => string;
  },
): Promise<OtlpPayload> {
  const body = await readBody(request, limits, 'send an ExportLogsServiceRequest');
  let decoded: unknown;
  if (encoding === 'json') {
    decoded = parseJson(body);
    if (!isPlainObject(decoded))
      throw new IngestError('BODY_SHAPE', 'Expected an ExportLogsServiceRequest: {"resourceLogs": [...]}');
  } else {
    let counts: LogRecordCounts;
    try {
      counts = countLogRecords(body, limits.maxEvents);
    } catch (err) {
      throw notProtobuf(err);
    }
    if (counts.logRecords > limits.maxEvents) throw tooMany(limits.maxEvents, 'log records');
    // Each holds records: more of them than records a request may carry is padding.
    if (counts.resourceLogs > limits.maxEvents || counts.scopeLogs > limits.maxEvents)
      throw tooMany(limits.maxEvents, 'log records, resources and scopes each');
    try {
      decoded = ExportLogsServiceRequest.decode(body);
    } catch (err) {
      throw notProtobuf(err);
    }
  }
  // Records carry no id. Each gets the keyed digest of the decoded request and its position in it:
  // a resent request (exporters resend the same bytes) maps to the same ids, and one HMAC per
  // request costs far less than one per record over a serialisation of it.
  const items = logEvents(decoded, {
    nameAttribute: options.nameAttribute,
    receivedAt: options.receivedAt,
    maxDepth: limits.maxDepth,
    maxRecords: limits.maxEvents,
    idPrefix: `o${options.digest(body)}.`,
  });
  // Protobuf strings are raw: any of them may need escaping.
  return { items, escapeFree: encoding === 'json' && escapeFree(body) };
}
