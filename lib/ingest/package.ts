import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  type BodyItem,
  checkDeclaredLength,
  decodedChunks,
  isGzip,
  mediaType,
  ndjsonTypes,
  parseLine,
  streamLines,
} from './body.js';
import { IngestError } from './errors.js';
import type { PackageStats } from './packageStore.js';
import { MAX_REPORTED_ERRORS, processItems, publishAll, type TenantRules } from './pipeline.js';
import type { IngestDeps, IngestRequest } from './request.js';

/** Kinds of telemetry file: an SDK's offline spool, a historical backfill, an export from another system. */
export const PACKAGE_KINDS = ['spool', 'backfill', 'import'] as const;

export const PackageHeaderSchema = z.strictObject({
  package: z.strictObject({ source: z.string().min(1).max(256), kind: z.enum(PACKAGE_KINDS) }),
});

/** Lines validated and published together: bounds memory while keeping packs well filled. */
const CHUNK_LINES = 2000;
/** A gzip package may inflate to this many times its size limit. */
const INFLATION_FACTOR = 8;

/**
 * POST /v1/packages: a telemetry file streamed line by line (never held whole), its first line a
 * header `{"package": {"source", "kind"}}`. Lines are validated and published like events, in
 * chunks as they arrive; bad lines are counted and never stop the rest.
 */
export async function ingestPackage(
  request: IngestRequest,
  rules: TenantRules,
  deps: IngestDeps & { maxPackageBytes: number; save(stats: PackageStats): Promise<void> },
): Promise<PackageStats> {
  const type = mediaType(request.headers.get('content-type'));
  if (type !== '' && !ndjsonTypes.has(type)) {
    throw new IngestError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type ${type} is not accepted: send application/x-ndjson`,
    );
  }
  const gzip = isGzip(request.headers.get('content-encoding'));
  checkDeclaredLength(request.headers, deps.maxPackageBytes);
  if (!request.body)
    throw new IngestError('PACKAGE_HEADER', 'The package is empty: its first line must be a header');
  const chunks = decodedChunks(request.body, {
    gzip,
    maxBodyBytes: deps.maxPackageBytes,
    maxInflatedBytes: deps.maxPackageBytes * INFLATION_FACTOR,
  });
  const lines = streamLines(chunks, deps.limits.maxEventBytes);

  const first = await lines.next();
  const header = first.done ? undefined : first.value;
  const parsed = header && 'line' in header ? parseLine(header.line, deps.limits.maxEventBytes) : undefined;
  const valid = parsed && 'value' in parsed ? PackageHeaderSchema.safeParse(parsed.value) : undefined;
  if (!valid?.success) {
    await lines.return(undefined);
    throw new IngestError(
      'PACKAGE_HEADER',
      `The first line must be a header {"package": {"source": "...", "kind": "${PACKAGE_KINDS.join('" | "')}"}}`,
    );
  }
  const stats: PackageStats = {
    id: randomUUID(),
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
  let items: BodyItem[] = [];
  let lineNumbers: number[] = [];
  const flush = async () => {
    const out = processItems(
      items,
      rules,
      { limits: deps.limits, now: deps.clock(), pack: deps.pack },
      (i) => lineNumbers[i]!,
    );
    await publishAll(deps.publisher, await out.packs);
    stats.accepted += out.accepted;
    stats.rejected += out.rejected;
    stats.dropped += out.dropped;
    for (const e of out.errors) if (stats.errors.length < MAX_REPORTED_ERRORS) stats.errors.push(e);
    items = [];
    lineNumbers = [];
  };
  try {
    for await (const line of lines) {
      stats.totalLines++;
      items.push(
        'line' in line ? parseLine(line.line, deps.limits.maxEventBytes) : tooLong(deps.limits.maxEventBytes),
      );
      lineNumbers.push(line.lineNumber);
      if (items.length >= CHUNK_LINES) await flush();
    }
    if (items.length > 0) await flush();
    stats.status = 'completed';
  } catch (err) {
    // Some chunks may be published already: record what happened so GET shows it; resending the
    // whole file is safe because event ids make duplicates harmless downstream.
    stats.status = 'failed';
    stats.message = err instanceof Error ? err.message : String(err);
    await deps.save({ ...stats, completedAt: new Date(deps.clock()).toISOString() }).catch(() => {});
    if (err instanceof IngestError) err.headers['x-package-id'] = stats.id;
    throw err;
  }
  stats.completedAt = new Date(deps.clock()).toISOString();
  await deps.save(stats);
  return stats;
}

function tooLong(max: number): BodyItem {
  return { error: 'EVENT_TOO_LARGE', message: `The line is longer than ${max} bytes` };
}
