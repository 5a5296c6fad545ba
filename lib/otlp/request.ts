import { type BodyItem, mediaType, parseJson } from '../ingest/body.js';
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

/**
 * Reads an OTLP/HTTP logs request (gzip when Content-Encoding says so, within the event limits),
 * decodes it in `encoding` and converts every log record to an envelope.
 */
export async function readOtlpLogs(
  request: IngestRequest,
  encoding: OtlpEncoding,
  limits: Limits,
  options: { nameAttribute: string; receivedAt: number },
): Promise<OtlpPayload> {
  const body = await readBody(request, limits, 'send an ExportLogsServiceRequest');
  let decoded: unknown;
  if (encoding === 'json') {
    decoded = parseJson(body);
    if (!isPlainObject(decoded))
      throw new IngestError('BODY_SHAPE', 'Expected an ExportLogsServiceRequest: {"resourceLogs": [...]}');
  } else {
    try {
      decoded = ExportLogsServiceRequest.decode(body);
    } catch (err) {
      throw new IngestError(
        'BODY_MALFORMED',
        `The body is not a protobuf ExportLogsServiceRequest (${(err as Error).message})`,
      );
    }
  }
  const items = logEvents(decoded, options);
  if (items.length > limits.maxEvents)
    throw new IngestError(
      'TOO_MANY_EVENTS',
      `A request carries at most ${limits.maxEvents} log records: split it`,
    );
  // Protobuf strings are raw: any of them may need escaping.
  return { items, escapeFree: encoding === 'json' && escapeFree(body) };
}
