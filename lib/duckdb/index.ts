import { availableParallelism } from 'node:os';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';

export interface DuckDBSettings {
  /** Worker threads; 0: one per core. */
  threads: number;
  memoryMb: number;
  /** Where DuckDB spills when a query needs more than `memoryMb`. */
  tempDirectory: string;
}

let shared: { key: string; instance: Promise<DuckDBInstance> } | undefined;

/**
 * The process's DuckDB (in memory; tasks hand it local files). One instance per process, so its
 * thread pool and memory limit are the instance's budget however many tasks run at once.
 * Extensions are never downloaded: json, parquet and icu are built in, and a run-time download
 * would fail without internet access and is not wanted in production either.
 */
export function duckdb(settings: DuckDBSettings): Promise<DuckDBInstance> {
  const key = JSON.stringify(settings);
  if (shared?.key !== key) {
    const instance = DuckDBInstance.create(':memory:', {
      threads: String(settings.threads || availableParallelism()),
      memory_limit: `${settings.memoryMb}MB`,
      temp_directory: settings.tempDirectory,
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    instance.catch(() => {
      if (shared?.instance === instance) shared = undefined;
    });
    shared = { key, instance };
  }
  return shared.instance;
}

/** Runs `fn` on a connection of its own (times shown in UTC), closed afterwards. */
export async function withConnection<T>(
  instance: DuckDBInstance,
  fn: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const connection = await instance.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    return await fn(connection);
  } finally {
    connection.closeSync();
  }
}

/** A SQL string literal (paths and values we put into statements DuckDB cannot bind). */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
