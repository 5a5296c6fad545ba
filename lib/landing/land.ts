import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import type { TableClient } from '@azure/data-tables';
import { describeError, isStatus } from '../clients/errors.js';
import { upsertInTransactions } from '../clients/tables.js';
import type { Lake } from '../lake/index.js';
import { stateIdOf } from '../temporal/index.js';
import { type BlockIndexEntry, toBlockEntity } from './blockIndex.js';
import { decodeMessage, type LandingMessage, landingFields, stampLines } from './decode.js';
import { type Gap, recordGap } from './gaps.js';
import { blockPath, deadLetterPath, idsPath } from './paths.js';
import { type Claim, type LandingRecord, toLandingEntity, toLandingRecord } from './watermarks.js';

export interface LandingDeps {
  lake: Lake;
  blockIndex: TableClient;
  landing: TableClient;
  eventHubName: string;
  gzipLevel: number;
  /** Uncompressed NDJSON bytes after which a block is closed and the next one started. */
  maxBlockBytes: number;
  /**
   * Reads a partition's messages `first`..`last` from Event Hubs again, to fill a gap: resolves
   * every one the hub still retains (in order), or rejects. Without it a gap is only recorded.
   */
  reread?: (partitionId: string, first: number, last: number) => Promise<LandingMessage[]>;
  log?: (message: string) => void;
  now?: () => number;
}

export interface LandingBatch {
  partitionId: string;
  messages: LandingMessage[];
}

export interface LandingResult {
  /** Messages at or below the watermark: a redelivery of what has landed. */
  skipped: number;
  events: number;
  blocks: BlockIndexEntry[];
  /** Messages that could not be landed, and the file that holds them with their reasons. */
  deadLettered: number;
  deadLetter: string | null;
  /** Missing messages read again from Event Hubs, and ranges it no longer had. */
  recovered: number;
  gaps: Gap[];
}

export class LandingError extends Error {
  constructor(
    readonly code: 'LANDING_CONFLICT' | 'LANDING_CLAIM_STUCK',
    message: string,
  ) {
    super(message);
    this.name = 'LandingError';
  }
}

interface OpenBlock {
  tenant: string;
  stateId: string;
  firstSeq: number;
  lastSeq: number;
  events: number;
  rawBytes: number;
  gzip: Gzip;
  done: Promise<Buffer>;
  ids: Buffer[];
}

interface LakeFile {
  path: string;
  body: Buffer;
  contentType: string;
  contentEncoding?: string;
}

/**
 * Lands one Event Hubs batch of one partition: raw blocks per (tenant, arrival minute), their id
 * sidecars, the block index, then the partition's watermark. Exactly once under any interleaving
 * of instances, retries and batch boundaries:
 *
 * 1. the attempt writes its files to a staging folder of its own;
 * 2. it claims its range on the partition's landing record (ETag-conditional: one attempt wins);
 * 3. the winner publishes the staged files (server-side copies: raw blocks, sidecars, dead
 *    letters) and the index, then moves the watermark and clears the claim. An attempt that finds
 *    a claim it did not finish (its owner died or is slow) publishes it the same way first: the
 *    same bytes under the same names.
 *
 * Nothing is ever written to the raw zone that is not claimed, and nothing claimed is ever
 * removed, so a slow writer can only repeat identical writes. Messages at or below the watermark
 * are skipped; a gap after it is filled from Event Hubs or recorded. Throws (and so must not be
 * checkpointed) when any write fails.
 */
export async function landBatch(deps: LandingDeps, batch: LandingBatch): Promise<LandingResult> {
  const partition = batch.partitionId;
  let record = await readRecord(deps, partition);
  if (record.claim) record = await finishClaim(deps, record);
  const fresh = batch.messages.filter((m) => m.sequenceNumber > record.sequenceNumber);
  const result: LandingResult = {
    skipped: batch.messages.length - fresh.length,
    events: 0,
    blocks: [],
    deadLettered: 0,
    deadLetter: null,
    recovered: 0,
    gaps: [],
  };
  if (fresh.length === 0) return result;
  const { messages, recovered, gaps } = await fillGaps(deps, partition, record.sequenceNumber, fresh);
  result.recovered = recovered;
  result.gaps = gaps;

  // Encode: stream every tenant-minute group through its own gzip, one body at a time, so a
  // batch of large packed bodies never sits inflated in memory all at once.
  const open = new Map<string, OpenBlock>();
  const closed: OpenBlock[] = [];
  const rejected: { message: LandingMessage; code: string; reason: string }[] = [];
  for (const message of messages) {
    const decoded = decodeMessage(message);
    if (!decoded.ok) {
      rejected.push({ message, code: decoded.code, reason: decoded.reason });
      continue;
    }
    const stateId = stateIdOf(message.enqueuedTimeMs);
    const key = `${decoded.tenant}\u0000${stateId}`;
    let block = open.get(key);
    if (block && block.rawBytes >= deps.maxBlockBytes) {
      block.gzip.end();
      closed.push(block);
      block = undefined;
    }
    if (!block) {
      block = openBlock(decoded.tenant, stateId, message.sequenceNumber, deps.gzipLevel);
      open.set(key, block);
    }
    const fields = landingFields(
      new Date(message.enqueuedTimeMs).toISOString(),
      partition,
      message.sequenceNumber,
    );
    const bytes = stampLines(decoded.ndjson, decoded.lines, fields);
    // Wait for zlib to take it: without this, every inflated body would queue up in memory.
    if (!block.gzip.write(bytes)) await once(block.gzip, 'drain');
    block.ids.push(decoded.ids);
    block.rawBytes += bytes.length;
    block.events += decoded.lines;
    block.lastSeq = message.sequenceNumber;
  }
  for (const block of open.values()) {
    block.gzip.end();
    closed.push(block);
  }
  const bodies = await Promise.all(closed.map((b) => b.done));
  const entries: BlockIndexEntry[] = closed.map((b, i) => ({
    stateId: b.stateId,
    tenant: b.tenant,
    path: blockPath(b.tenant, b.stateId, partition, b.firstSeq, b.lastSeq),
    partition,
    firstSequenceNumber: b.firstSeq,
    lastSequenceNumber: b.lastSeq,
    events: b.events,
    bytes: bodies[i]!.length,
    rawBytes: b.rawBytes,
  }));
  const files: LakeFile[] = entries.flatMap((e, i) => [
    { path: e.path, body: bodies[i]!, contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
    { path: idsPath(e.path), body: Buffer.concat(closed[i]!.ids), contentType: 'text/plain' },
  ]);
  const deadLetter = rejected.length ? deadLetterFile(deps.eventHubName, partition, rejected) : undefined;
  if (deadLetter) files.push(deadLetter);

  const last = messages[messages.length - 1]!;
  const claim: Claim = {
    attempt: randomBytes(8).toString('hex'),
    lastSequenceNumber: last.sequenceNumber,
    lastEnqueuedTimeMs: last.enqueuedTimeMs,
    blocks: entries,
    deadLetter: deadLetter?.path ?? null,
  };
  // 1. Stage. 2. Claim (gaps are recorded first: once the watermark passes them nobody looks again).
  await settleAll(
    files.map((f) => deps.lake.put(stagingPath(deps, partition, claim.attempt, f.path), f.body, f)),
  );
  for (const gap of gaps) await recordGap(deps.landing, deps.eventHubName, gap);
  try {
    record = await writeRecord(deps, { ...record, claim });
  } catch (err) {
    void removeStaging(deps, partition, claim);
    throw err;
  }
  // 3. Publish: the staged files, copied server side (as anyone who finds the claim would).
  if (!(await publishClaim(deps, partition, claim))) {
    // Another instance found the claim, published it and removed the staging: it is done.
    throw new LandingError(
      'LANDING_CONFLICT',
      `Partition ${partition}: another instance finished this batch`,
    );
  }
  await finalize(deps, record, claim);
  await removeStaging(deps, partition, claim);

  for (const r of rejected)
    deps.log?.(`Dead-lettered message ${r.message.sequenceNumber}: ${r.code}: ${r.reason}`);
  result.events = entries.reduce((n, e) => n + e.events, 0);
  result.blocks = entries;
  result.deadLettered = rejected.length;
  result.deadLetter = claim.deadLetter;
  return result;
}

/** Publishes a claim another attempt left (from its staging), then moves the watermark. */
async function finishClaim(deps: LandingDeps, record: LandingRecord): Promise<LandingRecord> {
  const claim = record.claim!;
  deps.log?.(
    `Partition ${record.partitionId}: finishing attempt ${claim.attempt}'s claim up to ${claim.lastSequenceNumber}`,
  );
  if (!(await publishClaim(deps, record.partitionId, claim))) {
    // Its owner finishes and then removes the staging: the claim may be done already.
    const now = await readRecord(deps, record.partitionId);
    if (now.claim?.attempt !== claim.attempt) return now.claim ? finishClaim(deps, now) : now;
    throw new LandingError(
      'LANDING_CLAIM_STUCK',
      `Partition ${record.partitionId}: attempt ${claim.attempt} claimed messages up to ${claim.lastSequenceNumber}, but its staged files are gone; restore them under staging/ or clear the claim`,
    );
  }
  try {
    record = await finalize(deps, record, claim);
  } catch (err) {
    if (!(err instanceof LandingError)) throw err;
    return readRecord(deps, record.partitionId);
  }
  await removeStaging(deps, record.partitionId, claim);
  return record;
}

/**
 * Copies a claim's staged files to their places and indexes its blocks. Idempotent: the same
 * bytes under the same names, however often and by whomever. False when a staged file is gone.
 */
async function publishClaim(deps: LandingDeps, partition: string, claim: Claim): Promise<boolean> {
  const copied = await Promise.all(
    claimPaths(claim).map((path) => deps.lake.copy(stagingPath(deps, partition, claim.attempt, path), path)),
  );
  if (copied.includes('missing')) return false;
  await upsertInTransactions(deps.blockIndex, claim.blocks.map(toBlockEntity));
  return true;
}

function finalize(deps: LandingDeps, record: LandingRecord, claim: Claim): Promise<LandingRecord> {
  return writeRecord(deps, {
    partitionId: record.partitionId,
    sequenceNumber: claim.lastSequenceNumber,
    enqueuedTimeMs: claim.lastEnqueuedTimeMs,
    etag: record.etag,
  });
}

/**
 * The fresh messages with any missing sequence numbers before or between them read again from
 * Event Hubs; what the hub no longer has is returned as gaps. When nothing has landed yet the
 * first message is where the partition starts.
 */
async function fillGaps(
  deps: LandingDeps,
  partition: string,
  landed: number,
  fresh: LandingMessage[],
): Promise<{ messages: LandingMessage[]; recovered: number; gaps: Gap[] }> {
  const out: LandingMessage[] = [];
  const gaps: Gap[] = [];
  let recovered = 0;
  let expected = landed >= 0 ? landed + 1 : fresh[0]!.sequenceNumber;
  for (const message of fresh) {
    if (message.sequenceNumber > expected) {
      const first = expected;
      const last = message.sequenceNumber - 1;
      const got = deps.reread
        ? (await deps.reread(partition, first, last)).filter(
            (m) => m.sequenceNumber >= first && m.sequenceNumber <= last,
          )
        : [];
      deps.log?.(
        `Partition ${partition}: sequence numbers ${first}..${last} were never landed; ${got.length} read again from Event Hubs`,
      );
      let next = first;
      for (const m of got) {
        if (m.sequenceNumber < next) continue;
        if (m.sequenceNumber > next) gaps.push(gapOf(deps, partition, next, m.sequenceNumber - 1));
        out.push(m);
        recovered++;
        next = m.sequenceNumber + 1;
      }
      if (next <= last) gaps.push(gapOf(deps, partition, next, last));
    }
    out.push(message);
    expected = message.sequenceNumber + 1;
  }
  for (const g of gaps) {
    deps.log?.(`Partition ${partition}: sequence numbers ${g.first}..${g.last} are lost: ${g.reason}`);
  }
  return { messages: out, recovered, gaps };
}

function gapOf(deps: LandingDeps, partitionId: string, first: number, last: number): Gap {
  return {
    partitionId,
    first,
    last,
    detectedAt: new Date((deps.now ?? Date.now)()).toISOString(),
    reason: deps.reread
      ? 'Event Hubs no longer retains these events (landing was behind by more than the retention)'
      : 'landing has no Event Hubs reader to read them again',
  };
}

/** One file per batch, one line per message with its reason, so a flood costs what good data costs. */
function deadLetterFile(
  eventHubName: string,
  partition: string,
  rejected: { message: LandingMessage; code: string; reason: string }[],
): LakeFile {
  const first = rejected[0]!.message;
  const last = rejected[rejected.length - 1]!.message;
  const lines = rejected.map(({ message, code, reason }) =>
    JSON.stringify({
      code,
      reason,
      eventHub: eventHubName,
      partition,
      sequenceNumber: message.sequenceNumber,
      enqueuedAt: new Date(message.enqueuedTimeMs).toISOString(),
      properties: message.properties,
      bodyBase64: message.body.toString('base64'),
    }),
  );
  return {
    path: deadLetterPath(partition, first.sequenceNumber, last.sequenceNumber, first.enqueuedTimeMs),
    body: Buffer.from(`${lines.join('\n')}\n`),
    contentType: 'application/x-ndjson',
  };
}

const claimPaths = (claim: Claim) => [
  ...claim.blocks.flatMap((b) => [b.path, idsPath(b.path)]),
  ...(claim.deadLetter ? [claim.deadLetter] : []),
];

function stagingPath(deps: LandingDeps, partition: string, attempt: string, path: string): string {
  return `staging/${deps.eventHubName}/${partition}/${attempt}/${path}`;
}

/** Best effort: an orphaned staging folder holds no landed data (a lifecycle rule can sweep it). */
async function removeStaging(deps: LandingDeps, partition: string, claim: Claim): Promise<void> {
  await Promise.all(
    claimPaths(claim).map((path) =>
      deps.lake.delete(stagingPath(deps, partition, claim.attempt, path)).catch((err) => {
        deps.log?.(`Could not remove staged ${path}: ${describeError(err)}`);
      }),
    ),
  );
}

function openBlock(tenant: string, stateId: string, firstSeq: number, level: number): OpenBlock {
  const gzip = createGzip({ level, chunkSize: 64 * 1024 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    gzip.on('end', () => resolve(Buffer.concat(chunks)));
    gzip.on('error', reject);
  });
  return { tenant, stateId, firstSeq, lastSeq: firstSeq, events: 0, rawBytes: 0, gzip, done, ids: [] };
}

async function readRecord(deps: LandingDeps, partitionId: string): Promise<LandingRecord> {
  try {
    return toLandingRecord(await deps.landing.getEntity(deps.eventHubName, partitionId));
  } catch (err) {
    if (isStatus(err, 404)) return { partitionId, sequenceNumber: -1, enqueuedTimeMs: 0 };
    throw err;
  }
}

/** ETag-conditional, so two instances landing one partition cannot both move it. */
async function writeRecord(deps: LandingDeps, record: LandingRecord): Promise<LandingRecord> {
  const entity = toLandingEntity(deps.eventHubName, record);
  try {
    const response = record.etag
      ? await deps.landing.updateEntity(entity, 'Replace', { etag: record.etag })
      : await deps.landing.createEntity(entity);
    return { ...record, etag: response.etag };
  } catch (err) {
    if (isStatus(err, 409, 412)) {
      throw new LandingError(
        'LANDING_CONFLICT',
        `Partition ${record.partitionId} was landed concurrently by another instance; the batch will be retried`,
      );
    }
    throw err;
  }
}

/**
 * Like Promise.all, but waits for every write to finish before rethrowing the first failure, so
 * no write of a failed attempt is still in flight when the retry starts.
 */
async function settleAll(writes: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(writes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
