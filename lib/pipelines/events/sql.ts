import { sqlString } from '../../duckdb/index.js';

/** How DuckDB reads a landed event line: the envelope, typed; `data` and `custom` stay JSON. */
const columns = {
  id: 'VARCHAR',
  name: 'VARCHAR',
  time: 'VARCHAR',
  core: 'STRUCT(deviceId VARCHAR, userId VARCHAR, sessionId VARCHAR, os VARCHAR, osVersion VARCHAR, app VARCHAR, appVersion VARCHAR, locale VARCHAR, userKind VARCHAR)',
  data: 'JSON',
  custom: 'JSON',
  tenant: 'VARCHAR',
  receivedAt: 'VARCHAR',
  enqueuedAt: 'VARCHAR',
  partition: 'VARCHAR',
  sequenceNumber: 'BIGINT',
};

/** The curated columns, in order (the README documents them). */
export const eventColumns = [
  'id',
  'name',
  'time',
  'device_id',
  'user_id',
  'session_id',
  'user_kind',
  'os',
  'os_version',
  'app',
  'app_version',
  'locale',
  'data',
  'custom',
  'tenant',
  'received_at',
  'enqueued_at',
  'partition',
  'sequence_number',
] as const;

/**
 * A query over an NDJSON file of landed events (what `readTaskEvents` writes) that yields the
 * curated columns: UTC timestamps, descriptive strings trimmed (a blank one becomes NULL), ids
 * kept exactly as sent (trimming would merge distinct ids). A line DuckDB cannot read or convert
 * makes the query fail; the caller then validates line by line.
 */
export function eventsQuery(file: string): string {
  const spec = Object.entries(columns)
    .map(([k, v]) => `${k}: ${sqlString(v)}`)
    .join(', ');
  return `SELECT
  id,
  name,
  CAST(time AS TIMESTAMPTZ) AS time,
  core.deviceId AS device_id,
  core.userId AS user_id,
  core.sessionId AS session_id,
  core.userKind AS user_kind,
  nullif(trim(core.os), '') AS os,
  nullif(trim(core.osVersion), '') AS os_version,
  nullif(trim(core.app), '') AS app,
  nullif(trim(core.appVersion), '') AS app_version,
  nullif(trim(core.locale), '') AS locale,
  data,
  custom,
  tenant,
  CAST(receivedAt AS TIMESTAMPTZ) AS received_at,
  CAST(enqueuedAt AS TIMESTAMPTZ) AS enqueued_at,
  partition,
  sequenceNumber AS sequence_number
FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${spec}})`;
}

/** Rows of an events relation that miss what every landed event has, or belong to another tenant. */
export function invalidEventsCondition(tenant: string): string {
  return `id IS NULL OR name IS NULL OR time IS NULL OR device_id IS NULL OR user_kind IS NULL
  OR tenant IS DISTINCT FROM ${sqlString(tenant)} OR received_at IS NULL OR enqueued_at IS NULL
  OR partition IS NULL OR sequence_number IS NULL`;
}
