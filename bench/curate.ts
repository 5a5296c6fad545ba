/**
 * npm run bench:curate — curates one temporal state of realistic events (2% duplicates, 1% late)
 * landed into Azurite (in this process) and prints events/s, peak RSS and the reference measured
 * in the same run on the same blocks: download + gunzip + JSON.parse of every line, in Node, on one
 * core. Curate runs with its 60-minute horizon full (the 60 earlier minutes hold as many events,
 * as id sidecars), then with a 24-hour horizon.
 *
 *   EVENTS=100000 THREADS=1 HORIZON24_EVENTS=2000 npm run bench:curate
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../dev/emulators/azurite.js';
import { upsertInTransactions } from '../lib/clients/tables.js';
import { duckdb } from '../lib/duckdb/index.js';
import { blobLake } from '../lib/lake/index.js';
import { type BlockIndexEntry, listBlocks, toBlockEntity } from '../lib/landing/blockIndex.js';
import type { LandingMessage } from '../lib/landing/decode.js';
import { landBatch } from '../lib/landing/land.js';
import { blockPath, idsPath } from '../lib/landing/paths.js';
import { type CurateDeps, curateTask } from '../lib/pipelines/curate/curate.js';
import { ByteCache } from '../lib/pipelines/events/cache.js';
import type { TaskMessage } from '../lib/pipelines/task.js';
import { limiter } from '../lib/pool/index.js';
import { nextStateId, stateIdOf } from '../lib/temporal/index.js';
import { eventLine, rssSampler } from './events.js';

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const THREADS = Number(process.env.THREADS ?? 0);
const HORIZON24_EVENTS = Number(process.env.HORIZON24_EVENTS ?? 2000);
const RUNS = Number(process.env.RUNS ?? 3);
const PARTITIONS = 4;
const PER_PACK = 100;
const tenant = 'bench';
const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
const S = stateIdOf(t0);
const gunzipAsync = promisify(gunzip);
const rss = rssSampler();

const azurite = await startAzurite();
const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
await container.create();
const opts = { allowInsecureConnection: true };
const blockIndex = TableClient.fromConnectionString(azurite.connectionString, 'blockindex', opts);
const landing = TableClient.fromConnectionString(azurite.connectionString, 'landing', opts);
await blockIndex.createTable();
await landing.createTable();
const lake = blobLake(container);

// The horizon: the 60 minutes before S hold as many events each, written as landing writes the
// sidecars the duplicate check reads (the workers never read earlier blocks themselves).
const idOf = (state: number, n: number) => `h${state}-${n.toString(36).padStart(8, '0')}`;
async function seedHorizon(minutes: number, perState: number): Promise<void> {
  for (let m = 1; m <= minutes; m += 30) {
    const entries: BlockIndexEntry[] = [];
    const writes: Promise<unknown>[] = [];
    for (let k = m; k < Math.min(minutes + 1, m + 30); k++) {
      const stateId = nextStateId(S, -k);
      for (let p = 0; p < PARTITIONS; p++) {
        const path = blockPath(
          tenant,
          stateId,
          String(p),
          k * 1_000_000,
          k * 1_000_000 + perState / PARTITIONS,
        );
        const ids: string[] = [];
        for (let n = p; n < perState; n += PARTITIONS) ids.push(idOf(k, n));
        writes.push(lake.put(idsPath(path), Buffer.from(`${ids.join('\n')}\n`)));
        entries.push({
          stateId,
          tenant,
          path,
          partition: String(p),
          firstSequenceNumber: k * 1_000_000,
          lastSequenceNumber: k * 1_000_000 + perState / PARTITIONS,
          events: ids.length,
          bytes: ids.length * 30,
          rawBytes: ids.length * 600,
        });
      }
    }
    await Promise.all(writes);
    await upsertInTransactions(blockIndex, entries.map(toBlockEntity));
  }
}
await seedHorizon(60, EVENTS);

// The state itself: EVENTS lines over 4 partitions (by device), 1% late by 1 h to 3 days, and 2%
// resends: half of an event earlier in this minute, half of one from the minute before.
const byPartition: string[][] = Array.from({ length: PARTITIONS }, () => []);
let lateCount = 0;
for (let n = 0; n < EVENTS; n++) {
  const at = t0 + Math.floor((n / EVENTS) * 59_000);
  const device = n % 5000;
  const p = device % PARTITIONS;
  if (n % 50 === 7 && n > 1000) {
    // A resend keeps the original's id (and device, so its partition): of an event 1,001 lines
    // earlier in this minute, or of one in the minute before.
    const original = n - 1001;
    const line =
      n % 100 === 7
        ? eventLine(tenant, original, at)
        : eventLine(tenant, n, at).replace(/"id":"[^"]+"/, `"id":"${idOf(1, p + PARTITIONS * (n % 1000))}"`);
    byPartition[n % 100 === 7 ? (original % 5000) % PARTITIONS : p]!.push(line);
    continue;
  }
  const late = n % 100 === 3;
  if (late) lateCount++;
  byPartition[p]!.push(
    eventLine(tenant, n, at, late ? at - 3_600_000 - ((n * 7919) % (3 * 86_400_000)) : undefined),
  );
}
let rawBytes = 0;
for (let p = 0; p < PARTITIONS; p++) {
  const lines = byPartition[p]!;
  const messages: LandingMessage[] = [];
  for (let i = 0, seq = 0; i < lines.length; i += PER_PACK, seq++) {
    const text = `${lines.slice(i, i + PER_PACK).join('\n')}\n`;
    rawBytes += Buffer.byteLength(text);
    const { gzipSync } = await import('node:zlib');
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
      { lake, blockIndex, landing, eventHubName: 'telemetry', gzipLevel: 6, maxBlockBytes: 64 * 1024 * 1024 },
      { partitionId: String(p), messages: messages.slice(i, i + 250) },
    );
  }
}
const blocks = (await listBlocks(blockIndex, S, tenant)).map(({ stateId: _s, tenant: _t, ...b }) => b);
const task: TaskMessage = {
  taskId: 'bench',
  pipeline: 'curate',
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
console.log(
  `${task.events.toLocaleString()} events (${lateCount.toLocaleString()} late, ${Math.floor(EVENTS / 50 - 20).toLocaleString()} resent), ` +
    `${(rawBytes / 1024 / 1024).toFixed(1)} MiB NDJSON in ${blocks.length} blocks; DuckDB threads: ${THREADS || 'one per core'}`,
);

const tmp = await mkdtemp(join(tmpdir(), 'bench-curate-'));
const cache = new ByteCache(256 * 1024 * 1024);
const deps = (horizonMinutes: number, cached = false): CurateDeps => ({
  lake,
  read: { lake, blockIndex, horizonMinutes, idsCache: cached ? cache : undefined },
  duckdb: () => duckdb({ threads: THREADS, memoryMb: 1024, tempDirectory: join(tmp, 'duckdb') }),
  tmpDir: tmp,
  limit: limiter(1),
});

async function reference(): Promise<number> {
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

await curateTask(deps(60), task); // warm-up: DuckDB start, first allocations
await reference();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timed(fn: () => Promise<Record<string, number> | number>) {
  const times: number[] = [];
  let last: Record<string, number> | number = 0;
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    last = await fn();
    times.push((performance.now() - start) / 1000);
  }
  return { seconds: median(times), last };
}
rss.reset();
const ref = await timed(reference);
const full = await timed(() => curateTask(deps(60), task));
await curateTask(deps(60, true), task); // fills the sidecar cache, as the previous state's task would
const cached = await timed(() => curateTask(deps(60, true), task));
const none = await timed(() => curateTask(deps(0), task));
const eps = (s: number) =>
  Math.round(task.events / s)
    .toLocaleString()
    .padStart(9);
const row = (name: string, s: number) =>
  console.log(`${name.padEnd(58)} ${eps(s)} events/s  ${s.toFixed(2)} s`);
console.log('');
row('reference: download + gunzip + JSON.parse, 1 core', ref.seconds);
row('curate, 60-minute horizon (full), sidecars read from the lake', full.seconds);
row('curate, 60-minute horizon (full), sidecars cached in memory', cached.seconds);
row('curate, no horizon', none.seconds);
console.log(
  `ratio curate (60-minute horizon, cached) / reference: ${((ref.seconds / cached.seconds) * 100).toFixed(0)}%`,
);
console.log(
  `ratio curate (60-minute horizon, uncached) / reference: ${((ref.seconds / full.seconds) * 100).toFixed(0)}%`,
);
console.log(`curate stats (uncached): ${JSON.stringify(full.last)}`);
console.log(`curate stats (cached):   ${JSON.stringify(cached.last)}`);
console.log(`peak RSS ${rss.peakMiB} MiB`);
const noHorizon = none.seconds;

// A 24-hour horizon: 1,440 earlier minutes of HORIZON24_EVENTS events each.
await seedHorizon(1440, HORIZON24_EVENTS);
const dayStart = performance.now();
const dayStats = await curateTask(deps(1440), task);
const day = (performance.now() - dayStart) / 1000;
const earlierIds = 60 * EVENTS + 1380 * HORIZON24_EVENTS;
console.log(
  `\ncurate, 24-hour horizon (minutes 1-60: ${EVENTS.toLocaleString()} events each, 61-1440: ${HORIZON24_EVENTS.toLocaleString()} each; ` +
    `${(earlierIds / 1e6).toFixed(1)} M earlier ids): ${day.toFixed(2)} s, ${eps(day)} events/s, ` +
    `${(((day - noHorizon) / earlierIds) * 1e9).toFixed(0)} ns per earlier id`,
);
console.log(`curate stats (24-hour horizon): ${JSON.stringify(dayStats)}`);
console.log(`peak RSS ${rss.peakMiB} MiB`);
rss.stop();
await rm(tmp, { recursive: true, force: true });
await azurite.stop();
