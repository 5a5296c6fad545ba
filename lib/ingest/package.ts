import { createHash, type Hash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  type BodyItem,
  checkDeclaredLength,
  decodedChunks,
  isGzip,
  type LineBatch,
  lineBatches,
  mediaType,
  ndjsonTypes,
  parseLine,
  type StreamLine,
} from './body.js';
import { IngestError } from './errors.js';
import type { PackageStats } from './packageStore.js';
import { MAX_REPORTED_ERRORS, processItems, type TenantRules } from './pipeline.js';
import { partitionIdsWithin, publishWithin } from './publisher.js';
import type { IngestDeps, IngestRequest } from './request.js';

/** Kinds of telemetry file: an SDK's offline spool, a historical backfill, an export from another system. */
export const PACKAGE_KINDS = ['spool', 'backfill', 'import'] as const;

export const PackageHeaderSchema = z.strictObject({
  package: z.strictObject({ source: z.string().min(1).max(256), kind: z.enum(PACKAGE_KINDS) }),
});

/** Lines validated and published together: bounds memory while keeping packs well filled. */
const CHUNK_LINES = 2000;
/** A gzip package may inflate to this many times its size limit (and at most 100:1, see body.ts). */
const INFLATION_FACTOR = 8;
/**
 * A package stops after this many blank lines, or this many rejected lines: past that it is
 * padding or the wrong file, and reading on would only cost CPU (the first errors say why).
 */
export const MAX_BLANK_LINES = 10_000;
export const MAX_REJECTED_LINES = 10_000;

const headerError = () =>
  new IngestError(
    'PACKAGE_HEADER',
    `The first line must be a header {"package": {"source": "...", "kind": "${PACKAGE_KINDS.join('" | "')}"}}`,
  );

/** Where package statistics are kept (PackageStore). */
export interface PackageRecords {
  find(tenant: string, id: string): Promise<{ stats: PackageStats; etag: string } | undefined>;
  claim(stats: PackageStats, etag?: string): Promise<boolean>;
  save(stats: PackageStats): Promise<void>;
}

/** An upload still `receiving` after this long died (the function timeout is 10 minutes). */
const STALE_RECEIVING_MS = 15 * 60_000;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,256}$/;

/** The package id of an Idempotency-Key: the same key of the same tenant, the same package. */
export function packageIdFor(tenant: string, key: string): string {
  return `k${createHash('sha256').update(`${tenant}\u0000${key}`).digest('hex').slice(0, 32)}`;
}

export interface PackageResult {
  stats: PackageStats;
  /** The answer is the first upload's, for the same file sent again with the same Idempotency-Key. */
  replayed: boolean;
}

/**
 * POST /v1/packages: a telemetry file streamed in chunks (never held whole), its first line a
 * header `{"package": {"source", "kind"}}`. Lines are validated and published like events, a few
 * thousand at a time as they arrive; bad lines are counted and never stop the rest, up to
 * MAX_REJECTED_LINES.
 *
 * With an `Idempotency-Key` the package id comes from the key, and the same file sent again (a
 * retried upload) publishes nothing and gets the first upload's statistics; another file with the
 * same key is refused (422), and one sent while the first is still being read waits (409). A
 * failed upload is processed again.
 */
export async function ingestPackage(
  request: IngestRequest,
  rules: TenantRules,
  deps: IngestDeps & {
    maxPackageBytes: number;
    packages: PackageRecords;
    /** Where a failure that does not change the answer is reported (the invocation's log). */
    warn(message: string, err: unknown): void;
  },
): Promise<PackageResult> {
  const type = mediaType(request.headers.get('content-type'));
  if (type !== '' && !ndjsonTypes.has(type)) {
    throw new IngestError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type ${type} is not accepted: send application/x-ndjson`,
    );
  }
  const gzip = isGzip(request.headers.get('content-encoding'));
  checkDeclaredLength(request.headers, deps.maxPackageBytes);
  const key = request.headers.get('idempotency-key') ?? undefined;
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) {
    throw new IngestError(
      'IDEMPOTENCY_KEY_INVALID',
      'Idempotency-Key is 1 to 256 visible ASCII characters (a UUID, or the file name and its hash)',
    );
  }
  if (!request.body) throw headerError();
  const id = key === undefined ? randomUUID() : packageIdFor(rules.tenant, key);
  const sha256 = createHash('sha256');
  const source = hashed(request.body, sha256);

  const earlier = key === undefined ? undefined : await deps.packages.find(rules.tenant, id);
  if (earlier?.stats.status === 'completed') {
    await drain(source, deps.maxPackageBytes);
    if (sha256.digest('hex') !== earlier.stats.contentSha256) {
      throw new IngestError(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency-Key "${key}" was used for another file (package ${id}): use a new key for a new file`,
      );
    }
    return { stats: earlier.stats, replayed: true };
  }
  if (
    earlier?.stats.status === 'receiving' &&
    deps.clock() - Date.parse(earlier.stats.receivedAt) < STALE_RECEIVING_MS
  ) {
    throw inProgress(id);
  }

  const maxEventBytes = deps.limits.maxEventBytes;
  const batches = lineBatches(
    decodedChunks(source, {
      gzip,
      maxBodyBytes: deps.maxPackageBytes,
      maxInflatedBytes: deps.maxPackageBytes * INFLATION_FACTOR,
    }),
    maxEventBytes,
    MAX_BLANK_LINES,
  );

  // The header: the first line that is not blank.
  let first: LineBatch | undefined;
  for (;;) {
    const next = await batches.next();
    if (next.done) break;
    if (next.value.lines.length > 0) {
      first = next.value;
      break;
    }
  }
  const headerLine = first?.lines[0];
  const parsed = headerLine && 'line' in headerLine ? parseLine(headerLine.line, maxEventBytes) : undefined;
  const valid = parsed && 'value' in parsed ? PackageHeaderSchema.safeParse(parsed.value) : undefined;
  if (!first || !valid?.success) {
    await batches.return(undefined);
    throw headerError();
  }
  const stats: PackageStats = {
    id,
    tenant: rules.tenant,
    source: valid.data.package.source,
    kind: valid.data.package.kind,
    status: 'receiving',
    receivedAt: new Date(deps.clock()).toISOString(),
    totalLines: 0,
    accepted: 0,
    rejected: 0,
    dropped: 0,
    errors: [],
  };
  if (key !== undefined) {
    stats.idempotencyKey = key;
    // Two uploads with one key: only the one that writes the row first goes on.
    if (!(await deps.packages.claim(stats, earlier?.etag))) {
      await batches.return(undefined);
      throw inProgress(id);
    }
  }
  const partitionIds = await partitionIdsWithin(deps.publisher, deps.deadlineMs);
  let items: BodyItem[] = [];
  let lineNumbers: number[] = [];
  const flush = async () => {
    const out = processItems(
      items,
      rules,
      { limits: deps.limits, partitionIds, now: deps.clock(), pack: deps.pack },
      (i) => lineNumbers[i]!,
    );
    await publishWithin(deps.publisher, await out.packs, deps.deadlineMs);
    stats.accepted += out.accepted;
    stats.rejected += out.rejected;
    stats.dropped += out.dropped;
    for (const e of out.errors) if (stats.errors.length < MAX_REPORTED_ERRORS) stats.errors.push(e);
    items = [];
    lineNumbers = [];
    if (stats.rejected > MAX_REJECTED_LINES) {
      throw new IngestError(
        'TOO_MANY_REJECTED',
        `More than ${MAX_REJECTED_LINES} lines were rejected, so the package was not read further (the first errors are listed by line): fix the file and send it again`,
      );
    }
  };
  const take = (lines: readonly StreamLine[], from: number, utf8: boolean) => {
    for (let i = from; i < lines.length; i++) {
      const line = lines[i]!;
      items.push('line' in line ? parseLine(line.line, maxEventBytes, utf8) : tooLong(maxEventBytes));
      lineNumbers.push(line.lineNumber);
    }
    stats.totalLines += lines.length - from;
  };
  try {
    take(first.lines, 1, first.utf8);
    for await (const batch of batches) {
      take(batch.lines, 0, batch.utf8);
      if (items.length >= CHUNK_LINES) await flush();
    }
    if (items.length > 0) await flush();
    stats.status = 'completed';
  } catch (err) {
    // Some chunks may be published already: record what happened so GET shows it; resending the
    // whole file is safe because event ids make duplicates harmless downstream.
    stats.status = 'failed';
    stats.message = err instanceof Error ? err.message : String(err);
    await deps.packages
      .save({ ...stats, completedAt: new Date(deps.clock()).toISOString() })
      .catch((saveErr: unknown) =>
        deps.warn(`package ${stats.id}: its statistics (status failed) could not be saved`, saveErr),
      );
    if (err instanceof IngestError) err.headers['x-package-id'] = stats.id;
    throw err;
  }
  stats.completedAt = new Date(deps.clock()).toISOString();
  stats.contentSha256 = sha256.digest('hex');
  await deps.packages.save(stats);
  return { stats, replayed: false };
}

function inProgress(id: string): IngestError {
  return new IngestError(
    'PACKAGE_IN_PROGRESS',
    `Package ${id} with this Idempotency-Key is still being received: wait for it (GET /v1/packages/${id}), or retry later`,
    { 'retry-after': '60' },
  );
}

/** The body as sent, adding every chunk to `hash` on the way. */
async function* hashed(source: AsyncIterable<Uint8Array>, hash: Hash): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    hash.update(chunk);
    yield chunk;
  }
}

/** Reads a body to its end (to hash it) without keeping it, refusing one over the cap. */
async function drain(source: AsyncIterable<Uint8Array>, maxBytes: number): Promise<void> {
  let total = 0;
  for await (const chunk of source) {
    total += chunk.byteLength;
    if (total > maxBytes)
      throw new IngestError('BODY_TOO_LARGE', `The package is larger than ${maxBytes} bytes`);
  }
}

function tooLong(max: number): BodyItem {
  return { error: 'EVENT_TOO_LARGE', message: `The line is longer than ${max} bytes` };
}
