import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import type { TableClient } from '@azure/data-tables';
import { isStatus } from '../clients/errors.js';
import { upsertInTransactions } from '../clients/tables.js';
import type { Lake } from '../lake/index.js';
import { stateIdOf } from '../temporal/index.js';
import { type BlockIndexEntry, blockRowKey, toBlockEntity } from './blockIndex.js';
import { decodeMessage, type LandingMessage, landingFields, stampLines } from './decode.js';
import { blockPath, deadLetterPath } from './paths.js';
import { type LandingRecord, type PendingBlock, toLandingEntity, toLandingRecord } from './watermarks.js';

export interface LandingDeps {
  lake: Lake;
  blockIndex: TableClient;
  landing: TableClient;
  eventHubName: string;
  gzipLevel: number;
  /** Uncompressed NDJSON bytes after which a block is closed and the next one started. */
  maxBlockBytes: number;
  log?: (message: string) => void;
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
  deadLetters: string[];
}

export class LandingError extends Error {
  constructor(
    readonly code: 'LANDING_CONFLICT',
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
}

/**
 * Lands one Event Hubs batch of one partition: raw blocks per (tenant, arrival minute), the
 * block index, then the partition's watermark. Safe to run any number of times on the same or
 * an overlapping batch: messages at or below the watermark are skipped, block names are
 * deterministic, and the blocks of an attempt that died before moving the watermark are
 * recorded as pending first and removed by the next attempt, so no event lands twice.
 * Throws (and so must not be checkpointed) when any write fails.
 */
export async function landBatch(deps: LandingDeps, batch: LandingBatch): Promise<LandingResult> {
  const partition = batch.partitionId;
  let record = await readRecord(deps, partition);
  const fresh = batch.messages.filter((m) => m.sequenceNumber > record.sequenceNumber);
  const result: LandingResult = {
    skipped: batch.messages.length - fresh.length,
    events: 0,
    blocks: [],
    deadLetters: [],
  };
  if (fresh.length === 0) return result;

  // Encode: stream every tenant-minute group through its own gzip, one body at a time, so a
  // batch of large packed bodies never sits inflated in memory all at once.
  const open = new Map<string, OpenBlock>();
  const closed: OpenBlock[] = [];
  const deadLetters: { path: string; body: Buffer }[] = [];
  for (const message of fresh) {
    const decoded = decodeMessage(message);
    if (!decoded.ok) {
      const path = deadLetterPath(partition, message.sequenceNumber, message.enqueuedTimeMs);
      deadLetters.push({
        path,
        body: Buffer.from(
          JSON.stringify({
            code: decoded.code,
            reason: decoded.reason,
            eventHub: deps.eventHubName,
            partition,
            sequenceNumber: message.sequenceNumber,
            enqueuedAt: new Date(message.enqueuedTimeMs).toISOString(),
            properties: message.properties,
            bodyBase64: message.body.toString('base64'),
          }),
        ),
      });
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
    block.rawBytes += bytes.length;
    block.events += decoded.lines;
    block.lastSeq = message.sequenceNumber;
  }
  for (const block of open.values()) {
    block.gzip.end();
    closed.push(block);
  }

  const entries: BlockIndexEntry[] = closed.map((b) => ({
    stateId: b.stateId,
    tenant: b.tenant,
    path: blockPath(b.tenant, b.stateId, partition, b.firstSeq, b.lastSeq),
    partition,
    firstSequenceNumber: b.firstSeq,
    lastSequenceNumber: b.lastSeq,
    events: b.events,
    bytes: 0,
    rawBytes: b.rawBytes,
  }));
  const pending: PendingBlock[] = entries.map((e) => ({
    tenant: e.tenant,
    stateId: e.stateId,
    first: e.firstSequenceNumber,
    last: e.lastSequenceNumber,
  }));
  // Claim the partition (ETag-conditional) before touching what an earlier attempt left: the
  // record names its blocks and ours, so whoever claims next can clean up both, and an attempt
  // that lost the claim can no longer move the watermark.
  const stale = record.pending.filter(
    (p) =>
      !pending.some(
        (q) => q.tenant === p.tenant && q.stateId === p.stateId && q.first === p.first && q.last === p.last,
      ),
  );
  record = await writeRecord(deps, { ...record, pending: [...stale, ...pending] });
  await removeBlocks(deps, partition, stale);

  const bodies = await Promise.all(closed.map((b) => b.done));
  await settleAll([
    ...entries.map((entry, i) => {
      entry.bytes = bodies[i]!.length;
      return deps.lake.put(entry.path, bodies[i]!, {
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
    }),
    ...deadLetters.map((d) => deps.lake.put(d.path, d.body, { contentType: 'application/json' })),
  ]);
  await upsertInTransactions(deps.blockIndex, entries.map(toBlockEntity));

  const last = fresh[fresh.length - 1]!;
  await writeRecord(deps, {
    ...record,
    sequenceNumber: last.sequenceNumber,
    enqueuedTimeMs: last.enqueuedTimeMs,
    pending: [],
  });
  for (const d of deadLetters) deps.log?.(`Dead-lettered ${d.path}`);
  result.events = entries.reduce((n, e) => n + e.events, 0);
  result.blocks = entries;
  result.deadLetters = deadLetters.map((d) => d.path);
  return result;
}

function openBlock(tenant: string, stateId: string, firstSeq: number, level: number): OpenBlock {
  const gzip = createGzip({ level, chunkSize: 64 * 1024 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    gzip.on('end', () => resolve(Buffer.concat(chunks)));
    gzip.on('error', reject);
  });
  return { tenant, stateId, firstSeq, lastSeq: firstSeq, events: 0, rawBytes: 0, gzip, done };
}

async function readRecord(deps: LandingDeps, partitionId: string): Promise<LandingRecord> {
  try {
    return toLandingRecord(await deps.landing.getEntity(deps.eventHubName, partitionId));
  } catch (err) {
    if (isStatus(err, 404)) {
      return { partitionId, sequenceNumber: -1, enqueuedTimeMs: 0, pending: [] };
    }
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

async function removeBlocks(deps: LandingDeps, partition: string, blocks: PendingBlock[]): Promise<void> {
  if (blocks.length === 0) return;
  deps.log?.(`Partition ${partition}: removing ${blocks.length} block(s) of an unfinished attempt`);
  await settleAll(
    blocks.map(async (p) => {
      const path = blockPath(p.tenant, p.stateId, partition, p.first, p.last);
      await deps.lake.delete(path);
      await deps.blockIndex.deleteEntity(p.stateId, blockRowKey({ tenant: p.tenant, path })).catch((err) => {
        if (!isStatus(err, 404)) throw err;
      });
    }),
  );
}

/**
 * Like Promise.all, but waits for every write to finish before rethrowing the first failure, so
 * no write of a failed attempt is still in flight when the retry starts cleaning up after it.
 */
async function settleAll(writes: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(writes);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
