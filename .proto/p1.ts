import { mkdirSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';

const N = 100_000;
const t0 = Date.UTC(2026, 10, 22, 10, 0, 0);
function line(n: number) {
  return JSON.stringify({
    id: `01JD${n.toString(36).padStart(10, '0')}`,
    name: n % 7 === 0 ? 'fault' : 'feature.used',
    time: new Date(t0 - (n % 5000) * 13).toISOString(),
    core: {
      deviceId: `9f2c${(n % 5000).toString(16).padStart(28, '0')}`,
      userId: `5ab1${(n % 20000).toString(16).padStart(28, '0')}`,
      sessionId: `s-${Math.floor(n / 50)}`,
      os: n % 2 ? 'Android' : 'iOS',
      osVersion: '15',
      app: 'station-monitor',
      appVersion: '4.12.0',
      locale: 'de-DE',
      userKind: 'external',
    },
    data: { contentId: `c-${n % 997}`, durationMs: n % 3000, screen: 'overview' },
    custom: { plan: 'pro', beta: n % 11 === 0 },
    tenant: 't1',
    receivedAt: new Date(t0 + n).toISOString(),
    enqueuedAt: new Date(t0 + n).toISOString(),
    partition: String(n % 4),
    sequenceNumber: n,
  });
}
const text = Array.from({ length: N }, (_, i) => line(i)).join('\n') + '\n';
const gz = gzipSync(text, { level: 6 });
console.log('ndjson MB', (text.length / 1e6).toFixed(1), 'gz MB', (gz.length / 1e6).toFixed(1));
let t = performance.now();
const raw = gunzipSync(gz);
let c = 0;
for (let s = 0; s < raw.length; ) {
  const e = raw.indexOf(10, s);
  JSON.parse(raw.toString('utf8', s, e));
  c++;
  s = e + 1;
}
const ref = performance.now() - t;
console.log('reference ms', ref.toFixed(0), c);
mkdirSync('/tmp/proto/out', { recursive: true });
writeFileSync('/tmp/proto/in.ndjson', raw);
writeFileSync('/tmp/proto/in.ndjson.gz', gz);
const threads = Number(process.env.THREADS ?? 2);
const db = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await db.connect();
const cols = `{id: 'VARCHAR', name: 'VARCHAR', time: 'VARCHAR', core: 'STRUCT(deviceId VARCHAR, userId VARCHAR, sessionId VARCHAR, os VARCHAR, osVersion VARCHAR, app VARCHAR, appVersion VARCHAR, locale VARCHAR, userKind VARCHAR)', data: 'JSON', custom: 'JSON', tenant: 'VARCHAR', receivedAt: 'VARCHAR', enqueuedAt: 'VARCHAR', partition: 'VARCHAR', sequenceNumber: 'BIGINT'}`;
for (const file of ['/tmp/proto/in.ndjson', '/tmp/proto/in.ndjson.gz']) {
  for (let r = 0; r < 2; r++) {
    t = performance.now();
    const cpu0 = process.cpuUsage();
    await con.run(`COPY (SELECT id, name, time::TIMESTAMPTZ AS time, core.deviceId AS device_id, core.userId AS user_id, core.sessionId AS session_id, core.userKind AS user_kind, trim(core.os) AS os, trim(core.osVersion) AS os_version, trim(core.app) AS app, trim(core.appVersion) AS app_version, trim(core.locale) AS locale, data, custom, tenant, receivedAt::TIMESTAMPTZ AS received_at, enqueuedAt::TIMESTAMPTZ AS enqueued_at, partition, sequenceNumber AS sequence_number
    FROM read_json('${file}', format='newline_delimited', columns=${cols}) ORDER BY name, time) TO '/tmp/proto/out/x.parquet' (FORMAT parquet, COMPRESSION zstd)`);
    const cpu = process.cpuUsage(cpu0);
    console.log(
      file,
      'duckdb ms',
      (performance.now() - t).toFixed(0),
      'cpu ms',
      ((cpu.user + cpu.system) / 1000).toFixed(0),
    );
  }
}
const r = await con.runAndReadAll(
  `SELECT name, type, logical_type, converted_type FROM parquet_schema('/tmp/proto/out/x.parquet')`,
);
console.log(r.getRowObjects());
