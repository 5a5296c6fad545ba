import { DuckDBInstance } from '@duckdb/node-api';

const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const q = async (s: string) => {
  try {
    const r = await con.runAndReadAll(s);
    console.log(s.slice(0, 60), JSON.stringify(r.getRowObjectsJson()));
  } catch (e) {
    console.log(s.slice(0, 60), 'ERR', (e as Error).message);
  }
};
await q(`SELECT current_setting('TimeZone') tz`);
await q(`SET TimeZone='UTC'`);
await q(`SELECT strftime(TIMESTAMPTZ '2026-11-22T23:30:00.123+02:00', '%Y-%m-%d %H') s`);
await q(`SELECT extension_name, loaded, installed FROM duckdb_extensions() WHERE loaded`);
await q(
  `COPY (SELECT 'a' AS tenant, 1 AS x) TO '/tmp/proto/h/tenant=a/date=2026-01-01/hour=01/f.parquet' (FORMAT parquet)`,
);

import { mkdirSync } from 'node:fs';
mkdirSync('/tmp/proto/h/tenant=a/date=2026-01-01/hour=01', { recursive: true });
await q(
  `COPY (SELECT 'a' AS tenant, 1 AS x) TO '/tmp/proto/h/tenant=a/date=2026-01-01/hour=01/f.parquet' (FORMAT parquet)`,
);
await q(`SELECT * FROM read_parquet('/tmp/proto/h/**/*.parquet', hive_partitioning=true)`);
await q(`SELECT * FROM read_json('/tmp/proto/nonexist.ndjson')`);
await q(`SELECT typeof(x) FROM (SELECT ?::INT x)`);
