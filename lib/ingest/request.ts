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

/** POST /v1/events for an authenticated tenant: decode, validate, pack, publish. */
export async function ingestEvents(
  request: IngestRequest,
  rules: TenantRules,
  deps: IngestDeps,
): Promise<Outcome> {
  const { limits } = deps;
  const format = bodyFormat(request.headers.get('content-type'));
  const gzip = isGzip(request.headers.get('content-encoding'));
  checkDeclaredLength(request.headers, limits.maxBodyBytes);
  const body = request.body
    ? await readDecoded(request.body, {
        gzip,
        maxBodyBytes: limits.maxBodyBytes,
        maxInflatedBytes: limits.maxInflatedBytes,
      })
    : Buffer.alloc(0);
  if (body.length === 0)
    throw new IngestError('BODY_SHAPE', 'The body is empty: send a JSON array of events');
  const items = parseBody(body, format, limits);
  const partitionIds = await partitionIdsWithin(deps.publisher, deps.deadlineMs);
  const { packs, ...outcome } = processItems(items, rules, {
    limits,
    partitionIds,
    now: deps.clock(),
    pack: deps.pack,
    escapeFree: escapeFree(body),
  });
  await publishWithin(deps.publisher, await packs, deps.deadlineMs);
  return outcome;
}
