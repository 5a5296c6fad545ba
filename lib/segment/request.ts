import { type BodyItem, noEvents, parseJson, tooMany } from '../ingest/body.js';
import { IngestError } from '../ingest/errors.js';
import { isoTimeMs } from '../ingest/eventTime.js';
import type { Limits } from '../ingest/limits.js';
import { type IngestRequest, readBody } from '../ingest/request.js';
import { escapeFree } from '../ingest/serialize.js';
import { isPlainObject, nonEmptyText } from '../ingest/structure.js';
import { type BatchDefaults, segmentEvent } from './convert.js';
import { SEGMENT_ROUTES, type SegmentRoute, type SegmentType } from './schema.js';

/** Segment's own limits (its HTTP API documents 500 KB per request and 32 KB per event). */
export const SEGMENT_MAX_BODY_BYTES = 500 * 1024;
export const SEGMENT_MAX_EVENT_BYTES = 32 * 1024;

/** The limits on a Segment route: Segment's, or the pipeline's where those are tighter. */
export function segmentLimits(limits: Limits): Limits {
  return {
    ...limits,
    maxBodyBytes: Math.min(limits.maxBodyBytes, SEGMENT_MAX_BODY_BYTES),
    maxInflatedBytes: Math.min(limits.maxInflatedBytes, SEGMENT_MAX_BODY_BYTES),
    maxEventBytes: Math.min(limits.maxEventBytes, SEGMENT_MAX_EVENT_BYTES),
  };
}

export function isSegmentRoute(kind: string): kind is SegmentRoute {
  return Object.hasOwn(SEGMENT_ROUTES, kind);
}

/** A Segment request read and parsed, not yet converted: its key can be checked first. */
export interface SegmentPayload {
  /** The messages as parsed (not yet counted or converted). */
  messages: unknown[];
  /** What the batch gives each message. */
  defaults: BatchDefaults;
  /** The type a single-event route implies. */
  routeType: SegmentType | undefined;
  /** `writeKey` from the body (the browser SDK sends it there when it cannot set headers). */
  writeKey: string | undefined;
  /** No string of the body needs JSON escaping. */
  escapeFree: boolean;
}

/**
 * Reads and parses a Segment request on `route`. JSON is parsed whatever Content-Type says (the
 * browser SDK sends `text/plain` to avoid a CORS preflight); gzip is inflated when
 * Content-Encoding says so. `receivedAt` is the server time the client clock is corrected
 * against. Nothing is converted: the key in the body is checked before any work per message.
 */
export async function readSegment(
  request: IngestRequest,
  route: SegmentRoute,
  limits: Limits,
  receivedAt: number,
): Promise<SegmentPayload> {
  const body = await readBody(request, limits, 'send a Segment batch {"batch": [...]} or one message');
  const parsed = parseJson(body);
  if (!isPlainObject(parsed)) throw new IngestError('BODY_SHAPE', 'Expected a JSON object');
  const kind = SEGMENT_ROUTES[route];
  let messages: unknown[];
  if (kind === 'batch') {
    if (!Array.isArray(parsed.batch))
      throw new IngestError('BODY_SHAPE', 'Expected a Segment batch: {"batch": [messages]}');
    messages = parsed.batch;
  } else messages = [parsed];
  return {
    messages,
    defaults: {
      context: kind === 'batch' && isPlainObject(parsed.context) ? parsed.context : undefined,
      sentAtMs: kind === 'batch' && typeof parsed.sentAt === 'string' ? isoTimeMs(parsed.sentAt) : Number.NaN,
      receivedAt,
    },
    routeType: kind === 'batch' ? undefined : kind,
    writeKey: nonEmptyText(parsed.writeKey),
    escapeFree: escapeFree(body),
  };
}

/** The messages of an authenticated Segment request as envelopes (within `limits.maxEvents`). */
export function segmentItems(payload: SegmentPayload, limits: Pick<Limits, 'maxEvents'>): BodyItem[] {
  const { messages, routeType, defaults } = payload;
  if (messages.length === 0) throw noEvents('The batch holds no messages');
  if (messages.length > limits.maxEvents) throw tooMany(limits.maxEvents, 'messages');
  return messages.map((m) => segmentEvent(m, routeType, defaults));
}
