/**
 * npm run bench:aggregate — aggregates the bench:curate state (100,000 realistic events, 2%
 * resent, 1% late by up to three days) into every built-in metric, in the local Cosmos DB
 * endpoint (in this process), and prints events/s, documents written and the reference measured
 * in the same run on the same blocks: download + gunzip + JSON.parse, in Node, on one core.
 *
 *   EVENTS=100000 THREADS=0 RUNS=3 npm run bench:aggregate
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CosmosClient } from '@azure/cosmos';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../dev/emulators/azurite.js';
import { startCosmos } from '../dev/emulators/cosmos.js';
import { duckdb } from '../lib/duckdb/index.js';
import { blobLake } from '../lib/lake/index.js';
import { builtinMetrics } from '../lib/metrics/builtin.js';
import { metricsContainer } from '../lib/metrics/windows.js';
import { type AggregateDeps, aggregateTask } from '../lib/pipelines/aggregate/aggregate.js';
import { limiter } from '../lib/pool/index.js';
import { rssSampler } from './events.js';
import { reference, seedState, t0, timed } from './state.js';

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const THREADS = Number(process.env.THREADS ?? 0);
const RUNS = Number(process.env.RUNS ?? 3);
const rss = rssSampler();

const azurite = await startAzurite();
const cosmos = await startCosmos();
const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('lake');
await container.create();
const opts = { allowInsecureConnection: true };
const blockIndex = TableClient.fromConnectionString(azurite.connectionString, 'blockindex', opts);
const landing = TableClient.fromConnectionString(azurite.connectionString, 'landing', opts);
await blockIndex.createTable();
await landing.createTable();
const lake = blobLake(container);
const client = new CosmosClient({ endpoint: cosmos.endpoint, key: 'dGVzdA==' });
const { database } = await client.databases.createIfNotExists({ id: 'telemetry' });
const { container: metrics } = await database.containers.createIfNotExists({
  id: metricsContainer,
  partitionKey: { paths: ['/pk'] },
});

const { task, rawBytes, late, resent } = await seedState({ lake, blockIndex, landing }, EVENTS, 'aggregate');
console.log(
  `${task.events.toLocaleString()} events (${late.toLocaleString()} late, ${resent.toLocaleString()} resent), ` +
    `${(rawBytes / 1024 / 1024).toFixed(1)} MiB NDJSON in ${task.blocks.length} blocks; ${builtinMetrics.length} built-in metrics; DuckDB threads: ${THREADS || 'one per core'}`,
);
const tmp = await mkdtemp(join(tmpdir(), 'bench-aggregate-'));
const deps: AggregateDeps = {
  read: { lake, blockIndex, horizonMinutes: 60 },
  duckdb: () => duckdb({ threads: THREADS, memoryMb: 1024, tempDirectory: join(tmp, 'duckdb') }),
  tmpDir: tmp,
  limit: limiter(1),
  metrics,
  definitions: async (tenant) => builtinMetrics.map((definition) => ({ tenant, definition, version: 1 })),
  maxGroups: 1000,
  now: () => t0 + 3_600_000,
};

await aggregateTask(deps, task); // warm-up: DuckDB start, first documents
await reference(lake, task.blocks);
rss.reset();
const ref = await timed(RUNS, () => reference(lake, task.blocks));
const agg = await timed(RUNS, () => aggregateTask(deps, task));
const { resources: docs } = await metrics.items.query('SELECT c.kind FROM c').fetchAll();
const eps = (s: number) =>
  Math.round(task.events / s)
    .toLocaleString()
    .padStart(9);
console.log('');
console.log(
  `${'reference: download + gunzip + JSON.parse, 1 core'.padEnd(52)} ${eps(ref.seconds)} events/s  ${ref.seconds.toFixed(2)} s`,
);
console.log(
  `${'aggregate: all built-in metrics into Cosmos DB'.padEnd(52)} ${eps(agg.seconds)} events/s  ${agg.seconds.toFixed(2)} s`,
);
console.log(`ratio aggregate / reference: ${((ref.seconds / agg.seconds) * 100).toFixed(0)}%`);
const count = (kind: string) => docs.filter((d) => d.kind === kind).length;
console.log(
  `documents: ${docs.length} (${count('contribution')} contributions, ${count('hour')} hours, ${count('day')} days); ` +
    `last run wrote ${JSON.stringify(agg.last)}`,
);
console.log(`peak RSS ${rss.peakMiB} MiB`);
rss.stop();
client.dispose();
await rm(tmp, { recursive: true, force: true });
await cosmos.stop();
await azurite.stop();
