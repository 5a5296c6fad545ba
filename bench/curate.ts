/**
 * npm run bench:curate — curates one temporal state of realistic events (2% resent, 1% late)
 * landed into Azurite (in this process) and prints events/s, peak RSS and the reference measured
 * in the same run on the same blocks: download + gunzip + JSON.parse of every line, in Node, on one
 * core. Curate runs with its 60-minute horizon full (the 60 earlier minutes hold as many events,
 * as id sidecars), then with a 24-hour horizon.
 *
 *   EVENTS=100000 THREADS=0 RUNS=3 HORIZON24_EVENTS=2000 npm run bench:curate
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../dev/emulators/azurite.js';
import { duckdb } from '../lib/duckdb/index.js';
import { blobLake } from '../lib/lake/index.js';
import { type CurateDeps, curateTask } from '../lib/pipelines/curate/curate.js';
import { ByteCache } from '../lib/pipelines/events/cache.js';
import { limiter } from '../lib/pool/index.js';
import { rssSampler } from './events.js';
import { reference, seedHorizon, seedState, timed } from './state.js';

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const THREADS = Number(process.env.THREADS ?? 0);
const HORIZON24_EVENTS = Number(process.env.HORIZON24_EVENTS ?? 2000);
const RUNS = Number(process.env.RUNS ?? 3);
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
const stores = { lake, blockIndex, landing };

await seedHorizon(stores, 60, EVENTS);
const { task, rawBytes, late, resent } = await seedState(stores, EVENTS, 'curate');
console.log(
  `${task.events.toLocaleString()} events (${late.toLocaleString()} late, ${resent.toLocaleString()} resent), ` +
    `${(rawBytes / 1024 / 1024).toFixed(1)} MiB NDJSON in ${task.blocks.length} blocks; DuckDB threads: ${THREADS || 'one per core'}`,
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

await curateTask(deps(60), task); // warm-up: DuckDB start, first allocations
await reference(lake, task.blocks);
rss.reset();
const ref = await timed(RUNS, () => reference(lake, task.blocks));
const full = await timed(RUNS, () => curateTask(deps(60), task));
await curateTask(deps(60, true), task); // fills the sidecar cache, as the previous state's task would
const cached = await timed(RUNS, () => curateTask(deps(60, true), task));
const none = await timed(RUNS, () => curateTask(deps(0), task));
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

// A 24-hour horizon: the 60 minutes above, then 1,380 more of HORIZON24_EVENTS events each.
await seedHorizon(stores, 1440, HORIZON24_EVENTS);
const day = await timed(1, () => curateTask(deps(1440), task));
const earlierIds = 60 * EVENTS + 1380 * HORIZON24_EVENTS;
console.log(
  `\ncurate, 24-hour horizon (minutes 1-60: ${EVENTS.toLocaleString()} events each, 61-1440: ${HORIZON24_EVENTS.toLocaleString()} each; ` +
    `${(earlierIds / 1e6).toFixed(1)} M earlier ids): ${day.seconds.toFixed(2)} s, ${eps(day.seconds)} events/s, ` +
    `${(((day.seconds - none.seconds) / earlierIds) * 1e9).toFixed(0)} ns per earlier id`,
);
console.log(`curate stats (24-hour horizon): ${JSON.stringify(day.last)}`);
console.log(`peak RSS ${rss.peakMiB} MiB`);
rss.stop();
await rm(tmp, { recursive: true, force: true });
await azurite.stop();
