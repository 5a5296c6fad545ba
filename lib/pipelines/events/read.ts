import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { TableClient } from '@azure/data-tables';
import { describeError } from '../../clients/errors.js';
import type { Lake } from '../../lake/index.js';
import { listBlocks, readBlockRange } from '../../landing/blockIndex.js';
import { encodeIds, type IdKey, idKeysOf } from '../../landing/ids.js';
import { idsPath } from '../../landing/paths.js';
import { runPool } from '../../pool/index.js';
import { LandedEventSchema } from '../../schema/index.js';
import { stateIdOf, stateStartMs } from '../../temporal/index.js';
import { shardBlocks } from '../shards.js';
import type { BlockRef, TaskMessage } from '../task.js';
import type { ByteCache } from './cache.js';
import { Deduper, DUPLICATE, KEEP, NO_ID } from './dedupe.js';

const inflate = promisify(gunzip);
const newline = 0x0a;

export interface ReadDeps {
  lake: Lake;
  blockIndex: TableClient;
  /** Minutes (states) before the task's state in which an earlier copy of an event counts. */
  horizonMinutes: number;
  /** Blocks downloaded at once. */
  concurrency?: number;
  /** Id sidecars already read by this process. */
  idsCache?: ByteCache;
}

export interface ReadOptions {
  /** Check every kept line against the landed-event schema (slow; for tasks with bad data). */
  validate?: boolean;
}

/** A line or block that could not be used, with the reason: written to `deadletter/<pipeline>/…`. */
export interface Rejected {
  block: string;
  /** 1-based line in the block; absent when the whole block is unreadable. */
  line?: number;
  reason: string;
  /** The line (its first 4 KiB). */
  text?: string;
}

export interface TaskEventsStats {
  blocks: number;
  /** Lines in the task's readable blocks. */
  eventsRead: number;
  /** Lines written: deduplicated and well-formed. */
  events: number;
  duplicates: number;
  badLines: number;
  unreadableBlocks: number;
  /** Blocks outside the task whose ids were read (horizon and other shards). */
  earlierBlocks: number;
  /** Time spent reading the task's blocks, the earlier blocks' ids, and writing the result. */
  readMs: number;
  earlierMs: number;
  writeMs: number;
  /** Time DuckDB took to load the written events (set by `withTaskEvents`). */
  loadMs: number;
}

export interface TaskEvents {
  stats: TaskEventsStats;
  rejected: Rejected[];
}

/**
 * Reads a task's raw blocks, drops duplicates (the rule in `Deduper`) and unusable lines, and
 * writes what is left to `outFile` as NDJSON, one landed event per line: the input both curate
 * and aggregate compute from, so their results agree. Blocks of closed states never change, so
 * the result is the same however often and in whatever order tasks run.
 */
export async function readTaskEvents(
  deps: ReadDeps,
  task: TaskMessage,
  outFile: string,
  options: ReadOptions = {},
): Promise<TaskEvents> {
  const concurrency = deps.concurrency ?? 16;
  const stateBlocks =
    task.blocksInMessage && task.shards === 1
      ? undefined
      : await listBlocks(deps.blockIndex, task.stateId, task.tenant);
  const own = task.blocksInMessage
    ? task.blocks
    : (shardBlocks(stateBlocks!, task.shardMaxBytes)[task.shard] ?? []);
  const rejected: Rejected[] = [];
  const stats: TaskEventsStats = {
    blocks: own.length,
    eventsRead: 0,
    events: 0,
    duplicates: 0,
    badLines: 0,
    unreadableBlocks: 0,
    earlierBlocks: 0,
    readMs: 0,
    earlierMs: 0,
    writeMs: 0,
    loadMs: 0,
  };
  let started = performance.now();
  const lap = () => {
    const ms = Math.round(performance.now() - started);
    started = performance.now();
    return ms;
  };

  // 1. The task's own blocks, inflated, with the id of every line.
  const loaded: { ref: BlockRef; data: Buffer; keys: (IdKey | undefined)[] }[] = [];
  await runPool(own, concurrency, async (ref) => {
    const data = await readBlock(deps.lake, ref.path);
    if (typeof data === 'string') {
      stats.unreadableBlocks++;
      rejected.push({ block: ref.path, reason: data });
      return;
    }
    loaded.push({ ref, data, keys: idKeysOf(data) });
  });
  loaded.sort((a, b) => (a.ref.path < b.ref.path ? -1 : 1));
  const deduper = new Deduper(
    loaded.map((b) => ({
      partition: b.ref.partition,
      firstSequenceNumber: b.ref.firstSequenceNumber,
      keys: b.keys,
    })),
  );

  stats.readMs = lap();

  // 2. Ids of the blocks that may hold earlier copies: same partitions, horizon and other shards.
  const partitions = new Set(deduper.partitions);
  const ownPaths = new Set(own.map((b) => b.path));
  const earlier: { ref: BlockRef; order: number }[] = [];
  for (const ref of stateBlocks ?? []) {
    if (!ownPaths.has(ref.path) && partitions.has(ref.partition))
      earlier.push({ ref, order: ref.firstSequenceNumber });
  }
  if (deps.horizonMinutes > 0 && partitions.size > 0) {
    const from = stateIdOf(stateStartMs(task.stateId) - deps.horizonMinutes * 60_000);
    const to = stateIdOf(stateStartMs(task.stateId) - 60_000);
    const range = await readBlockRange(deps.blockIndex, from, to, task.tenant);
    for (const tenants of range.values()) {
      for (const ref of tenants.get(task.tenant) ?? []) {
        if (partitions.has(ref.partition)) earlier.push({ ref, order: Number.NEGATIVE_INFINITY });
      }
    }
  }
  await runPool(earlier, concurrency, async ({ ref, order }) => {
    deduper.addEarlier(ref.partition, order, await readIds(deps, ref.path));
  });
  stats.earlierBlocks = earlier.length;
  stats.earlierMs = lap();

  // 3. Write what is kept.
  const verdicts = deduper.verdicts();
  const file = await open(outFile, 'w');
  try {
    for (let i = 0; i < loaded.length; i++) {
      const { ref, data } = loaded[i]!;
      const verdict = verdicts[i]!;
      const parts: Buffer[] = [];
      let line = 0;
      let clean = true;
      for (let start = 0; start < data.length; line++) {
        let end = data.indexOf(newline, start);
        if (end === -1) end = data.length;
        stats.eventsRead++;
        let reason: string | undefined;
        if (verdict[line] === DUPLICATE) {
          stats.duplicates++;
          clean = false;
        } else if (verdict[line] === NO_ID) {
          reason = 'the line has no string `id`';
        } else if (data[start] !== 0x7b || data[end - 1] !== 0x7d) {
          reason = 'the line is not a JSON object';
        } else if (options.validate) {
          reason = validationError(data.toString('utf8', start, end), task.tenant);
        }
        if (reason) {
          stats.badLines++;
          clean = false;
          rejected.push({
            block: ref.path,
            line: line + 1,
            reason,
            text: data.toString('utf8', start, Math.min(end, start + 4096)),
          });
        } else if (verdict[line] === KEEP) {
          stats.events++;
          parts.push(data.subarray(start, end + 1));
        }
        start = end + 1;
      }
      if (clean)
        await file.write(data[data.length - 1] === newline ? data : Buffer.concat([data, Buffer.from('\n')]));
      else if (parts.length) await file.write(Buffer.concat(parts));
      loaded[i] = { ref, data: Buffer.alloc(0), keys: [] };
    }
  } finally {
    await file.close();
  }
  stats.writeMs = lap();
  return { stats, rejected };
}

/** A block's NDJSON, or why it cannot be read. */
async function readBlock(lake: Lake, path: string): Promise<Buffer | string> {
  const gz = await lake.get(path);
  if (!gz) return 'the block is listed in the block index but missing from the lake';
  try {
    return await inflate(gz);
  } catch (err) {
    return `the block cannot be inflated: ${describeError(err)}`;
  }
}

/**
 * A block's id sidecar (one id per line); for a block landed before sidecars existed, made from
 * the block itself. Sidecars of closed states never change, so they are cached in memory:
 * neighbouring states' tasks share most of their horizon.
 */
async function readIds(deps: ReadDeps, path: string): Promise<Buffer> {
  const cached = deps.idsCache?.get(path);
  if (cached) return cached;
  let sidecar = await deps.lake.get(idsPath(path));
  if (!sidecar) {
    const data = await readBlock(deps.lake, path);
    // An unreadable earlier block holds no usable copies; its own task reports it.
    sidecar = typeof data === 'string' ? Buffer.alloc(0) : encodeIds(idKeysOf(data));
  }
  deps.idsCache?.set(path, sidecar);
  return sidecar;
}

function validationError(line: string, tenant: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return `the line is not JSON: ${(err as Error).message}`;
  }
  const parsed = LandedEventSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return `${issue.path.join('.') || 'event'}: ${issue.message}`;
  }
  if (parsed.data.tenant !== tenant) return `the event is of tenant '${parsed.data.tenant}', not '${tenant}'`;
  return undefined;
}
