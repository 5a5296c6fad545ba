import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { withConnection } from '../../duckdb/index.js';
import type { TaskMessage } from '../task.js';
import { type ReadDeps, readTaskEvents, type TaskEvents } from './read.js';
import { eventsQuery, invalidEventsCondition } from './sql.js';

export interface LoadDeps {
  read: ReadDeps;
  duckdb: () => Promise<DuckDBInstance>;
  /** Local folder for the task's working files (removed afterwards). */
  tmpDir: string;
  /** Bounds the tasks of this process in flight (each holds its blocks in memory). */
  limit: <T>(fn: () => Promise<T>) => Promise<T>;
  log?: (message: string) => void;
}

class InvalidEvents extends Error {}

/**
 * Runs `fn` with a task's deduplicated, well-formed events in the DuckDB temp table `events`
 * (the curated columns, `eventsQuery`), on a connection of its own, in a working folder of its
 * own: what curate and aggregate both compute from, so their results agree. When DuckDB cannot
 * read some line as a landed event, every line is validated and the bad ones are left out (and
 * reported in `rejected`).
 */
export async function withTaskEvents<T>(
  deps: LoadDeps,
  task: TaskMessage,
  fn: (c: DuckDBConnection, events: TaskEvents, dir: string) => Promise<T>,
): Promise<{ result: T; events: TaskEvents }> {
  return deps.limit(async () => {
    const dir = await mkdtemp(join(deps.tmpDir, `${task.pipeline}-`));
    try {
      const input = join(dir, 'events.ndjson');
      let events = await readTaskEvents(deps.read, task, input);
      const db = await deps.duckdb();
      return await withConnection(db, async (c) => {
        const started = performance.now();
        try {
          await loadTable(c, input, task.tenant);
        } catch (err) {
          if (!(err instanceof InvalidEvents)) throw err;
          deps.log?.(`${task.taskId}: ${err.message}; validating every line`);
          events = await readTaskEvents(deps.read, task, input, { validate: true });
          await loadTable(c, input, task.tenant);
        }
        events.stats.loadMs = Math.round(performance.now() - started);
        try {
          return { result: await fn(c, events, dir), events };
        } finally {
          await c.run('DROP TABLE IF EXISTS events');
        }
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

async function loadTable(c: DuckDBConnection, input: string, tenant: string): Promise<void> {
  try {
    await c.run(`CREATE OR REPLACE TEMP TABLE events AS ${eventsQuery(input)}`);
  } catch (err) {
    throw new InvalidEvents(`DuckDB could not read the events: ${(err as Error).message.split('\n')[0]}`);
  }
  const invalid = await c.runAndReadAll(
    `SELECT count(*)::INTEGER AS n FROM events WHERE ${invalidEventsCondition(tenant)}`,
  );
  const n = Number(invalid.getRowObjects()[0]!.n);
  if (n > 0) throw new InvalidEvents(`${n} events miss required fields or name another tenant`);
}
