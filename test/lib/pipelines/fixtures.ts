import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Container } from '@azure/cosmos';
import { CosmosClient } from '@azure/cosmos';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { type CosmosEmulator, startCosmos } from '../../../dev/emulators/cosmos.js';
import { duckdb, withConnection } from '../../../lib/duckdb/index.js';
import { blobLake, type Lake } from '../../../lib/lake/index.js';
import { listBlocks } from '../../../lib/landing/blockIndex.js';
import type { LandingMessage } from '../../../lib/landing/decode.js';
import { landBatch } from '../../../lib/landing/land.js';
import { builtinMetrics } from '../../../lib/metrics/builtin.js';
import { type MetricVersion, metricsContainer } from '../../../lib/metrics/windows.js';
import type { AggregateDeps } from '../../../lib/pipelines/aggregate/aggregate.js';
import type { CurateDeps } from '../../../lib/pipelines/curate/curate.js';
import { shardBlocks } from '../../../lib/pipelines/shards.js';
import { type TaskMessage, taskIdOf } from '../../../lib/pipelines/task.js';
import type { UsersDeps } from '../../../lib/pipelines/users/users.js';
import { limiter } from '../../../lib/pool/index.js';
import { stateIdOf } from '../../../lib/temporal/index.js';
import { usersContainer } from '../../../lib/users/lookup.js';

export const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
export const minute = 60_000;

/** One event as ingest writes it: the envelope (normalised) + tenant + receivedAt. */
export interface TestEvent {
  id: string;
  name?: string;
  time?: number;
  device?: string;
  data?: Record<string, unknown>;
}

export function eventLine(tenant: string, e: TestEvent, receivedAt: number): string {
  return JSON.stringify({
    id: e.id,
    name: e.name ?? 'feature.used',
    time: new Date(e.time ?? receivedAt - 1000).toISOString(),
    core: {
      deviceId: e.device ?? 'dev-1',
      userId: 'u-1',
      os: ' Android ',
      app: 'station-monitor',
      userKind: 'external',
    },
    data: e.data ?? { n: 1 },
    custom: { plan: 'pro' },
    tenant,
    receivedAt: new Date(receivedAt).toISOString(),
  });
}

/** A packed Event Hubs message of raw NDJSON lines, as ingest publishes them. */
export function message(
  tenant: string,
  seq: number,
  enqueuedTimeMs: number,
  lines: string[],
): LandingMessage {
  return {
    body: gzipSync(`${lines.join('\n')}\n`),
    sequenceNumber: seq,
    enqueuedTimeMs,
    properties: { tenant, count: lines.length, contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
  };
}

export interface PipelineHarness {
  azurite: Azurite;
  cosmos: CosmosEmulator;
  /** The `metrics` container of a fresh database per reset. */
  metrics: Container;
  container: ContainerClient;
  lake: Lake;
  blockIndex: TableClient;
  landing: TableClient;
  tmp: string;
  /** Lands one batch of one partition, as the land function does. */
  land(partitionId: string, messages: LandingMessage[]): Promise<void>;
  /** The tasks main would send for (state, tenant) with this byte budget per shard. */
  tasks(stateId: string, tenant: string, maxBytes?: number, run?: string): Promise<TaskMessage[]>;
  curateDeps(horizonMinutes?: number): CurateDeps;
  usersDeps(): UsersDeps;
  /** The `users` container of the database of this reset. */
  users: Container;
  aggregateDeps(definitions?: MetricVersion[] | ((tenant: string) => MetricVersion[])): AggregateDeps;
  /** Every curated row of a tenant, read back by DuckDB from a copy of the curated zone. */
  curated(tenant: string): Promise<Record<string, unknown>[]>;
  /** Runs SQL over a local copy of a tenant's curated zone, available as the view `curated`. */
  sqlOverCurated(tenant: string, sql: string): Promise<Record<string, unknown>[]>;
  /** Paths under a prefix of the lake. */
  paths(prefix: string): Promise<string[]>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

let run = 0;

export async function startPipelineHarness(): Promise<PipelineHarness> {
  const azurite = await startAzurite();
  const cosmos = await startCosmos();
  const cosmosClient = new CosmosClient({ endpoint: cosmos.endpoint, key: 'dGVzdA==' });
  const tmp = await mkdtemp(join(tmpdir(), 'pipeline-test-'));
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const opts = { allowInsecureConnection: true };
  const h = {} as PipelineHarness;
  const db = () => duckdb({ threads: 1, memoryMb: 512, tempDirectory: join(tmp, 'duckdb') });
  Object.assign(h, {
    azurite,
    cosmos,
    tmp,
    async reset() {
      run++;
      const { database } = await cosmosClient.databases.createIfNotExists({ id: `telemetry${run}` });
      const { container } = await database.containers.createIfNotExists({
        id: metricsContainer,
        partitionKey: { paths: ['/pk'] },
      });
      h.metrics = container;
      h.users = (
        await database.containers.createIfNotExists({ id: usersContainer, partitionKey: { paths: ['/pk'] } })
      ).container;
      h.container = service.getContainerClient(`lake${run}`);
      await h.container.create();
      h.lake = blobLake(h.container);
      h.blockIndex = TableClient.fromConnectionString(azurite.connectionString, `blockindex${run}`, opts);
      h.landing = TableClient.fromConnectionString(azurite.connectionString, `landing${run}`, opts);
      await h.blockIndex.createTable();
      await h.landing.createTable();
    },
    async land(partitionId: string, messages: LandingMessage[]) {
      await landBatch(
        {
          lake: h.lake,
          blockIndex: h.blockIndex,
          landing: h.landing,
          eventHubName: 'telemetry',
          gzipLevel: 1,
          maxBlockBytes: 1024 * 1024,
        },
        { partitionId, messages },
      );
    },
    async tasks(stateId: string, tenant: string, maxBytes = 128 * 1024 * 1024, runId = 'live') {
      const blocks = (await listBlocks(h.blockIndex, stateId, tenant)).map(
        ({ stateId: _s, tenant: _t, ...b }) => b,
      );
      const shards = shardBlocks(blocks, maxBytes);
      return shards.map(
        (list, shard): TaskMessage => ({
          taskId: taskIdOf('curate', runId, stateId, tenant, shard),
          pipeline: 'curate',
          run: runId,
          stateId,
          tenant,
          shard,
          shards: shards.length,
          shardMaxBytes: maxBytes,
          attempt: 1,
          blockCount: list.length,
          events: list.reduce((n, b) => n + b.events, 0),
          bytes: list.reduce((n, b) => n + b.bytes, 0),
          blocksInMessage: true,
          blocks: list,
        }),
      );
    },
    curateDeps(horizonMinutes = 60): CurateDeps {
      return {
        lake: h.lake,
        read: { lake: h.lake, blockIndex: h.blockIndex, horizonMinutes },
        duckdb: db,
        tmpDir: tmp,
        limit: limiter(4),
      };
    },
    usersDeps(): UsersDeps {
      return { ...h.curateDeps(), users: h.users };
    },
    aggregateDeps(definitions?: MetricVersion[] | ((tenant: string) => MetricVersion[])): AggregateDeps {
      return {
        ...h.curateDeps(),
        metrics: h.metrics,
        definitions: async (tenant) =>
          typeof definitions === 'function'
            ? definitions(tenant)
            : (definitions ?? builtinMetrics.map((definition) => ({ tenant, definition, version: 1 }))),
        maxGroups: 1000,
        now: () => t0 + 3600_000,
      };
    },
    async paths(prefix: string) {
      const out: string[] = [];
      for await (const f of h.lake.list(prefix)) out.push(f.path);
      return out.sort();
    },
    async sqlOverCurated(tenant: string, sql: string) {
      const dir = await mkdtemp(join(tmp, 'sql-'));
      try {
        for (const path of await h.paths(`curated/events/tenant=${tenant}/`)) {
          const local = join(dir, path);
          await mkdir(dirname(local), { recursive: true });
          await writeFile(local, (await h.lake.get(path))!);
        }
        return await withConnection(await db(), async (c) => {
          await c.run(
            `CREATE OR REPLACE TEMP VIEW curated AS SELECT * FROM read_parquet('${dir}/curated/events/**/*.parquet')`,
          );
          return (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async curated(tenant: string) {
      const dir = await mkdtemp(join(tmp, 'read-'));
      try {
        const files = await h.paths(`curated/events/tenant=${tenant}/`);
        if (files.length === 0) return [];
        for (const path of files) {
          const local = join(dir, path);
          await mkdir(dirname(local), { recursive: true });
          await writeFile(local, (await h.lake.get(path))!);
        }
        return await withConnection(await db(), async (c) => {
          const r = await c.runAndReadAll(
            `SELECT * EXCLUDE (data, custom), data::VARCHAR AS data, custom::VARCHAR AS custom
             FROM read_parquet('${dir}/curated/events/**/*.parquet', hive_partitioning = true)
             ORDER BY id, sequence_number`,
          );
          return r.getRowObjectsJson() as Record<string, unknown>[];
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
    async stop() {
      cosmosClient.dispose();
      await cosmos.stop();
      await azurite.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  });
  await h.reset();
  return h;
}

export const stateOf = (ms: number) => stateIdOf(ms);
