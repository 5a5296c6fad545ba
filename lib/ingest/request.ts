import type { BodyItem } from './body.js';
import { type BodySource, bodyFormat, checkDeclaredLength, isGzip, parseBody, readDecoded } from './body.js';
import { IngestError } from './errors.js';
import type { Limits } from './limits.js';
import type { PackOptions } from './pack.js';
import { type Outcome, processItems, type TenantRules } from './pipeline.js';
import { type Publisher, partitionIdsWithin, publishWithin } from './publisher.js';
import { escapeFree } from './serialize.js';

export interface IngestDeps {
  publisher: Publisher;
  /** Epoch ms; injected so tests pin the time window. */
  clock: () => number;
  limits: Limits;
  /** How long a request waits for Event Hubs before answering 503 (INGEST_DEADLINE_MS). */
  deadlineMs: number;
  pack?: PackOptions;
}

/** The parts of an HTTP request ingest reads (the Functions HttpRequest and fetch's Request both fit). */
export interface IngestRequest {
  headers: Headers;
  body: BodySource | null;
}

/** The body caps of one route: the event endpoints' limits, or a protocol's tighter ones. */
export type BodyLimits = Pick<Limits, 'maxBodyBytes' | 'maxInflatedBytes'>;

/**
 * A request's body as sent, inflated when it says gzip, with the caps checked while reading; the
 * same for every protocol. An empty body is refused (`emptyHint` says what to send instead).
 */
export async function readBody(
  request: IngestRequest,
  limits: BodyLimits,
  emptyHint: string,
): Promise<Buffer> {
  const gzip = isGzip(request.headers.get('content-encoding'));
  checkDeclaredLength(request.headers, limits.maxBodyBytes);
  const body = request.body
    ? await readDecoded(request.body, {
        gzip,
        maxBodyBytes: limits.maxBodyBytes,
        maxInflatedBytes: limits.maxInflatedBytes,
      })
    : Buffer.alloc(0);
  if (body.length === 0) throw new IngestError('BODY_SHAPE', `The body is empty: ${emptyHint}`);
  return body;
}

export interface PublishOptions {
  /** Server time of the request, epoch ms (what protocols correct client clocks against). */
  now: number;
  /** Per-event caps; the endpoint's limits when absent. */
  limits?: Pick<Limits, 'maxEventBytes' | 'maxDepth'>;
  /** No string in the items needs JSON escaping (see `escapeFree`). */
  escapeFree?: boolean;
}

/**
 * The path every protocol shares once its payload is in the common envelope: validation, privacy,
 * blocklist, sampling, packing and publishing within the deadline. Resolves when Event Hubs has
 * every accepted event.
 */
export async function publishEvents(
  items: readonly BodyItem[],
  rules: TenantRules,
  deps: IngestDeps,
  options: PublishOptions,
): Promise<Outcome> {
  const partitionIds = await partitionIdsWithin(deps.publisher, deps.deadlineMs);
  const { packs, ...outcome } = processItems(items, rules, {
    limits: options.limits ?? deps.limits,
    partitionIds,
    now: options.now,
    pack: deps.pack,
    escapeFree: options.escapeFree,
  });
  await publishWithin(deps.publisher, await packs, deps.deadlineMs);
  return outcome;
}

/** POST /v1/events for an authenticated tenant: decode, validate, pack, publish. */
export async function ingestEvents(
  request: IngestRequest,
  rules: TenantRules,
  deps: IngestDeps,
): Promise<Outcome> {
  const { limits } = deps;
  const format = bodyFormat(request.headers.get('content-type'));
  const body = await readBody(request, limits, 'send a JSON array of events');
  const items = parseBody(body, format, limits);
  return publishEvents(items, rules, deps, { now: deps.clock(), escapeFree: escapeFree(body) });
}
