/**
 * The benchmark state shared by bench:curate and bench:aggregate: one temporal state of realistic
 * events (1% late by an hour to three days, 2% resent: half of an event earlier in the minute,
 * half of one from the minute before) landed through lib/landing into Azurite, with the horizon's
 * earlier minutes as the id sidecars the duplicate check reads.
 */
import { promisify } from 'node:util';
import { gunzip, gzipSync } from 'node:zlib';
import type { TableClient } from '@azure/data-tables';
import { upsertInTransactions } from '../lib/clients/tables.js';
import type { Lake } from '../lib/lake/index.js';
import { type BlockIndexEntry, listBlocks, toBlockEntity } from '../lib/landing/blockIndex.js';
import type { LandingMessage } from '../lib/landing/decode.js';
import { landBatch } from '../lib/landing/land.js';
import { blockPath, idsPath } from '../lib/landing/paths.js';
import type { BlockRef, TaskMessage } from '../lib/pipelines/task.js';
import { nextStateId, stateIdOf } from '../lib/temporal/index.js';
import { eventLine } from './events.js';

export const PARTITIONS = 4;
const PER_PACK = 100;
export const tenant = 'bench';
export const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
export const S = stateIdOf(t0);
const gunzipAsync = promisify(gunzip);

export interface BenchStores {
  lake: Lake;
  blockIndex: TableClient;
  landing: TableClient;
}

const idOf = (state: number, n: number) => `h${state}-${n.toString(36).padStart(8, '0')}`;

/** `minutes` earlier states of `perState` events each, as the id sidecars (and index) landing writes. */
export async function seedHorizon(stores: BenchStores, minutes: number, perState: number): Promise<void> {
  for (let m = 1; m <= minutes; m += 30) {
    const entries: BlockIndexEntry[] = [];
    const writes: Promise<unknown>[] = [];
    for (let k = m; k < Math.min(minutes + 1, m + 30); k++) {
      const stateId = nextStateId(S, -k);
      for (let p = 0; p < PARTITIONS; p++) {
        const first = k * 1_000_000;
        const last = first + Math.ceil(perState / PARTITIONS);
        const path = blockPath(tenant, stateId, String(p), first, last);
        const ids: string[] = [];
        for (let n = p; n < perState; n += PARTITIONS) ids.push(idOf(k, n));
        writes.push(stores.lake.put(idsPath(path), Buffer.from(`${ids.join('\n')}\n`)));
        entries.push({
          stateId,
          tenant,
          path,
          partition: String(p),
          firstSequenceNumber: first,
          lastSequenceNumber: last,
          events: ids.length,
          bytes: ids.length * 30,
          rawBytes: ids.length * 600,
        });
      }
    }
    await Promise.all(writes);
    await upsertInTransactions(stores.blockIndex, entries.map(toBlockEntity));
  }
}

/** Lands the state's events; returns the task main would send for it, and what went in. */
export async function seedState(stores: BenchStores, events: number, pipeline: string) {
  const byPartition: string[][] = Array.from({ length: PARTITIONS }, () => []);
  let late = 0;
  let resent = 0;
  for (let n = 0; n < events; n++) {
    const at = t0 + Math.floor((n / events) * 59_000);
    const p = (n % 5000) % PARTITIONS;
    if (n % 50 === 7 && n > 1000) {
      // A resend keeps the original's id (and device, so its partition).
      resent++;
      const original = n - 1001;
      const line =
        n % 100 === 7
          ? eventLine(tenant, original, at)
          : eventLine(tenant, n, at).replace(
              /"id":"[^"]+"/,
              `"id":"${idOf(1, p + PARTITIONS * (n % 1000))}"`,
            );
      byPartition[n % 100 === 7 ? (original % 5000) % PARTITIONS : p]!.push(line);
      continue;
    }
    const isLate = n % 100 === 3;
    if (isLate) late++;
    byPartition[p]!.push(
      eventLine(tenant, n, at, isLate ? at - 3_600_000 - ((n * 7919) % (3 * 86_400_000)) : undefined),
    );
  }
  let rawBytes = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const lines = byPartition[p]!;
    const messages: LandingMessage[] = [];
    for (let i = 0, seq = 0; i < lines.length; i += PER_PACK, seq++) {
      const text = `${lines.slice(i, i + PER_PACK).join('\n')}\n`;
      rawBytes += Buffer.byteLength(text);
      messages.push({
        body: gzipSync(text, { level: 1 }),
        sequenceNumber: 100_000_000 + seq,
        enqueuedTimeMs: t0 + Math.floor((i / lines.length) * 59_000),
        properties: {
          tenant,
          count: Math.min(PER_PACK, lines.length - i),
          contentType: 'application/x-ndjson',
          contentEncoding: 'gzip',
        },
      });
    }
    for (let i = 0; i < messages.length; i += 250) {
      await landBatch(
        { ...stores, eventHubName: 'telemetry', gzipLevel: 6, maxBlockBytes: 64 * 1024 * 1024 },
        { partitionId: String(p), messages: messages.slice(i, i + 250) },
      );
    }
  }
  const blocks: BlockRef[] = (await listBlocks(stores.blockIndex, S, tenant)).map(
    ({ stateId: _s, tenant: _t, ...b }) => b,
  );
  const task: TaskMessage = {
    taskId: `bench-${pipeline}`,
    pipeline,
    run: 'live',
    stateId: S,
    tenant,
    shard: 0,
    shards: 1,
    shardMaxBytes: 128 * 1024 * 1024,
    attempt: 1,
    blockCount: blocks.length,
    events: blocks.reduce((n, b) => n + b.events, 0),
    bytes: blocks.reduce((n, b) => n + b.bytes, 0),
    blocksInMessage: true,
    blocks,
  };
  return { task, rawBytes, late, resent };
}

/** The reference: download, gunzip and JSON.parse every line of the task's blocks, on one core. */
export async function reference(lake: Lake, blocks: readonly BlockRef[]): Promise<number> {
  let lines = 0;
  for (const b of blocks) {
    const data = await gunzipAsync((await lake.get(b.path))!);
    for (let start = 0; start < data.length; ) {
      const end = data.indexOf(10, start);
      JSON.parse(data.toString('utf8', start, end));
      lines++;
      start = end + 1;
    }
  }
  return lines;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The median wall time (s) of `runs` runs of `fn`, and what the last one returned. */
export async function timed<T>(runs: number, fn: () => Promise<T>): Promise<{ seconds: number; last: T }> {
  const times: number[] = [];
  let last!: T;
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    last = await fn();
    times.push((performance.now() - start) / 1000);
  }
  return { seconds: median(times), last };
}
