import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { sqlString, withConnection } from '../../duckdb/index.js';
import type { Lake } from '../../lake/index.js';
import { type ReadDeps, readTaskEvents, type TaskEvents } from '../events/read.js';
import { eventsQuery, invalidEventsCondition } from '../events/sql.js';
import type { TaskMessage } from '../task.js';
import type { TaskStats } from '../worker.js';
import { curateDeadLetterPath, curatedPath, manifestPath, manifestPrefix } from './paths.js';

export interface CurateDeps {
  lake: Lake;
  read: ReadDeps;
  duckdb: () => Promise<DuckDBInstance>;
  /** Local folder for the task's working files (removed afterwards). */
  tmpDir: string;
  /** Bounds the tasks of this process in flight (each holds its blocks in memory). */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
  log?: (message: string) => void;
}

/** What a curate task wrote, kept next to the outputs so a rerun can remove what it no longer writes. */
interface Manifest {
  taskId: string;
  stateId: string;
  tenant: string;
  shard: number;
  shards: number;
  files: string[];
  deadLetters: string | null;
}

class InvalidEvents extends Error {}

/**
 * Curates one task: its deduplicated events as Parquet (zstd, sorted by name and time) in the
 * curated zone, one file per event hour, then the manifest; files an earlier run of the task
 * wrote and this one did not are removed. Bad lines and unreadable blocks go to
 * `deadletter/curate/…` with the reason, and the rest is written.
 */
export async function curateTask(deps: CurateDeps, task: TaskMessage): Promise<TaskStats> {
  return deps.limit(async () => {
    const dir = await mkdtemp(join(deps.tmpDir, 'curate-'));
    try {
      const input = join(dir, 'events.ndjson');
      let events = await readTaskEvents(deps.read, task, input);
      const db = await deps.duckdb();
      const parquetStart = performance.now();
      const hours = await withConnection(db, (c) => writeHours(c, input, dir, task, events)).catch(
        async (err: unknown) => {
          if (!(err instanceof InvalidEvents)) throw err;
          // Some line is not a landed event: find which, line by line, and write the rest.
          deps.log?.(`${task.taskId}: ${err.message}; validating every line`);
          events = await readTaskEvents(deps.read, task, input, { validate: true });
          return withConnection(db, (c) => writeHours(c, input, dir, task, events));
        },
      );
      const parquetMs = Math.round(performance.now() - parquetStart);
      const uploadStart = performance.now();
      const files: string[] = [];
      let rows = 0;
      for (const h of hours) {
        const path = curatedPath(task.tenant, h.date, h.hour, task.stateId, task.shard);
        await deps.lake.put(path, await readFile(h.file), { contentType: 'application/vnd.apache.parquet' });
        files.push(path);
        rows += h.rows;
      }
      let deadLetters: string | null = null;
      if (events.rejected.length) {
        deadLetters = curateDeadLetterPath(task.tenant, task.stateId, task.shard);
        const text = events.rejected.map((r) => JSON.stringify({ taskId: task.taskId, ...r })).join('\n');
        await deps.lake.put(deadLetters, Buffer.from(`${text}\n`), { contentType: 'application/x-ndjson' });
      }
      await replaceManifest(deps.lake, {
        taskId: task.taskId,
        stateId: task.stateId,
        tenant: task.tenant,
        shard: task.shard,
        shards: task.shards,
        files,
        deadLetters,
      });
      if (task.shard === 0) await removeDroppedShards(deps.lake, task);
      const { stats } = events;
      return {
        blocks: stats.blocks,
        eventsRead: stats.eventsRead,
        eventsWritten: rows,
        duplicates: stats.duplicates,
        badLines: stats.badLines,
        unreadableBlocks: stats.unreadableBlocks,
        earlierBlocks: stats.earlierBlocks,
        files: files.length,
        readMs: stats.readMs,
        earlierMs: stats.earlierMs,
        writeMs: stats.writeMs,
        parquetMs,
        uploadMs: Math.round(performance.now() - uploadStart),
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

interface HourFile {
  date: string;
  hour: string;
  file: string;
  rows: number;
}

/** The task's events as one Parquet file per event hour, in `dir`. */
async function writeHours(
  c: DuckDBConnection,
  input: string,
  dir: string,
  task: TaskMessage,
  events: TaskEvents,
): Promise<HourFile[]> {
  if (events.stats.events === 0) return [];
  try {
    await c.run(
      `CREATE OR REPLACE TEMP TABLE curated AS SELECT *, strftime(time, '%Y-%m-%d') AS p_date, strftime(time, '%H') AS p_hour FROM (${eventsQuery(input)})`,
    );
  } catch (err) {
    throw new InvalidEvents(`DuckDB could not read the events: ${(err as Error).message.split('\n')[0]}`);
  }
  const invalid = await c.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM curated WHERE ${invalidEventsCondition(task.tenant)}`,
  );
  const n = Number(invalid.getRowObjects()[0]!.n);
  if (n > 0) throw new InvalidEvents(`${n} events miss required fields or name another tenant`);

  const groups = await c.runAndReadAll(
    'SELECT p_date, p_hour, count(*)::INTEGER AS n FROM curated GROUP BY ALL ORDER BY ALL',
  );
  const out: HourFile[] = [];
  for (const g of groups.getRowObjects()) {
    const date = String(g.p_date);
    const hour = String(g.p_hour);
    const file = join(dir, `${date}-${hour}.parquet`);
    await c.run(
      `COPY (SELECT * EXCLUDE (p_date, p_hour) FROM curated WHERE p_date = ${sqlString(date)} AND p_hour = ${sqlString(hour)} ORDER BY name, time, id)
       TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    out.push({ date, hour, file, rows: Number(g.n) });
  }
  await c.run('DROP TABLE curated');
  return out;
}

/** Writes the new manifest, then removes what the previous run of the task wrote and this one did not. */
async function replaceManifest(lake: Lake, manifest: Manifest): Promise<void> {
  const path = manifestPath(manifest.tenant, manifest.stateId, manifest.shard);
  const previous = await readManifest(lake, path);
  await lake.put(path, Buffer.from(JSON.stringify(manifest)), { contentType: 'application/json' });
  if (!previous) return;
  const keep = new Set([...manifest.files, manifest.deadLetters]);
  for (const old of [...previous.files, previous.deadLetters]) {
    if (old && !keep.has(old)) await lake.delete(old);
  }
}

/** When the state was cut into more shards before (a smaller MAIN_TASK_MAX_BYTES), the extra shards' files go. */
async function removeDroppedShards(lake: Lake, task: TaskMessage): Promise<void> {
  const prefix = manifestPrefix(task.tenant, task.stateId);
  for await (const f of lake.list(prefix)) {
    const shard = Number(f.path.slice(prefix.length, -'.json'.length));
    if (!Number.isInteger(shard) || shard < task.shards) continue;
    const stale = await readManifest(lake, f.path);
    for (const old of [...(stale?.files ?? []), stale?.deadLetters]) if (old) await lake.delete(old);
    await lake.delete(f.path);
  }
}

async function readManifest(lake: Lake, path: string): Promise<Manifest | undefined> {
  const body = await lake.get(path);
  return body ? (JSON.parse(body.toString('utf8')) as Manifest) : undefined;
}
