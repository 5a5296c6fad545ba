import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../../duckdb/index.js';
import type { Lake } from '../../lake/index.js';
import { runPool } from '../../pool/index.js';
import { type LoadDeps, withTaskEvents } from '../events/load.js';
import type { TaskEvents } from '../events/read.js';
import type { TaskMessage } from '../task.js';
import type { TaskStats } from '../worker.js';
import { curateDeadLetterPath, curatedPath, manifestPath, manifestPrefix } from './paths.js';

export interface CurateDeps extends LoadDeps {
  lake: Lake;
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

/**
 * Curates one task: its deduplicated events as Parquet (zstd, sorted by name, time and id) in the
 * curated zone, one file per event hour, then the manifest; files an earlier run of the task
 * wrote and this one did not are removed. Bad lines and unreadable blocks go to
 * `deadletter/curate/…` with the reason, and the rest is written.
 */
export async function curateTask(deps: CurateDeps, task: TaskMessage): Promise<TaskStats> {
  const parquetStart = performance.now();
  const { result: hours, events } = await withTaskEvents(deps, task, async (c, loaded, dir) => {
    const written = await writeHours(c, dir, loaded);
    const parquetMs = Math.round(
      performance.now() - parquetStart - loaded.stats.readMs - loaded.stats.earlierMs - loaded.stats.writeMs,
    );
    const uploadStart = performance.now();
    const files = written.map((h) => curatedPath(task.tenant, h.date, h.hour, task.stateId, task.shard));
    // Late events spread a task over many hours: their small files go up 8 at a time.
    await runPool(written, 8, async (h) => {
      const path = curatedPath(task.tenant, h.date, h.hour, task.stateId, task.shard);
      await deps.lake.put(path, await readFile(h.file), { contentType: 'application/vnd.apache.parquet' });
    });
    const rows = written.reduce((n, h) => n + h.rows, 0);
    return { files, rows, parquetMs, uploadStart };
  });
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
    files: hours.files,
    deadLetters,
  });
  if (task.shard === 0) await removeDroppedShards(deps.lake, task);
  const { stats } = events;
  return {
    blocks: stats.blocks,
    eventsRead: stats.eventsRead,
    eventsWritten: hours.rows,
    duplicates: stats.duplicates,
    badLines: stats.badLines,
    unreadableBlocks: stats.unreadableBlocks,
    earlierBlocks: stats.earlierBlocks,
    files: hours.files.length,
    readMs: stats.readMs,
    earlierMs: stats.earlierMs,
    writeMs: stats.writeMs,
    loadMs: stats.loadMs,
    parquetMs: hours.parquetMs,
    uploadMs: Math.round(performance.now() - hours.uploadStart),
  };
}

interface HourFile {
  date: string;
  hour: string;
  file: string;
  rows: number;
}

/** The task's events (the `events` table) as one Parquet file per event hour, in `dir`. */
async function writeHours(c: DuckDBConnection, dir: string, events: TaskEvents): Promise<HourFile[]> {
  if (events.stats.events === 0) return [];
  const groups = await c.runAndReadAll(
    `SELECT epoch_ms(date_trunc('hour', time)) AS h, count(*)::INTEGER AS n FROM events GROUP BY ALL ORDER BY ALL`,
  );
  const out: HourFile[] = [];
  for (const g of groups.getRowObjectsJS()) {
    const start = Number(g.h);
    const iso = new Date(start).toISOString();
    const [date, hour] = [iso.slice(0, 10), iso.slice(11, 13)];
    const file = join(dir, `${date}-${hour}.parquet`);
    // A time range, not a formatted string per row: 74 late hours would format every row 74 times.
    await c.run(
      `COPY (SELECT * FROM events WHERE time >= make_timestamptz(${start * 1000}) AND time < make_timestamptz(${(start + 3_600_000) * 1000}) ORDER BY name, time, id)
       TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    out.push({ date, hour, file, rows: Number(g.n) });
  }
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
