import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CosmosEmulator, startCosmos } from '../../dev/emulators/cosmos.js';
import { pseudonymizerFor } from '../../lib/ingest/privacy.js';
import type { StatusReport } from '../../lib/main/status.js';
import { provision } from '../../lib/provision/index.js';
import { MetricSeriesSchema, UserLookupSchema } from '../../lib/query/schemas.js';
import { services } from '../../lib/services/index.js';
import { listTaskLog, taskLogTable } from '../../lib/tasklog/index.js';
import { stateIdOf } from '../../lib/temporal/index.js';
import { tenantStores } from '../../lib/tenants/index.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/**
 * The whole local stack, end to end: a known dataset through HTTP ingest, then exact results in
 * the raw zone, the curated Parquet (read by DuckDB), the metric windows, user lookups, alerts and
 * telemetry quality through the query API and status. Then the same dataset for a second tenant,
 * with the stack stopped after ingest (before any worker ran) and started again on the same data:
 * the same results. Cosmos DB runs apart and outlives the restart, as a real account would.
 */

const adminKey = 'e2e-admin-key-0123456789';
const secret = 'local-development-privacy-secret';
const minute = 60_000;
const hour = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

let dataDir: string;
let cosmos: CosmosEmulator;
let stack: TestStack;

async function start(): Promise<TestStack> {
  return startTestStack({
    dataDir,
    without: ['cosmos'],
    settings: {
      CosmosConnection: cosmos.connectionString,
      TELEMETRY_ADMIN_KEY: adminKey,
      MAIN_SCHEDULE: '*/1 * * * * *',
      CONFIG_CACHE_SECONDS: '0',
    },
    adjustHostJson: (h) => {
      h.extensions.queues.maxPollingInterval = 200;
    },
  });
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'e2e-'));
  cosmos = await startCosmos({ port: 0 });
  stack = await start();
  await provision(services(), { cosmos: true });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  await cosmos?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const admin = (init: RequestInit = {}) => ({
  ...init,
  headers: { authorization: `Bearer ${adminKey}`, ...(init.headers as Record<string, string>) },
});

/** A tenant with an internal e-mail domain, a blocked prefix, an opted-out user and an alert rule. */
async function setUpTenant(tenant: string): Promise<string> {
  const key = `${tenant}-key-0123456789abcdef`;
  const stores = tenantStores(services());
  await stores.tenants.putTenant(tenant, { internalDomains: ['corp.example'] });
  await stores.tenants.addKey(tenant, key);
  await stores.optOuts.add(tenant, pseudonymizerFor(secret, tenant).pseudonym('opted-user'));
  const config = await stack.fetch(
    `/api/v1/config?tenant=${tenant}`,
    admin({ method: 'PATCH', body: JSON.stringify({ blocklist: ['debug.*'] }) }),
  );
  expect(config.status).toBe(200);
  const rule = await stack.fetch(
    `/api/v1/alerts/rules/busy?tenant=${tenant}`,
    admin({ method: 'PUT', body: JSON.stringify({ metric: 'alarms', window: '1m', op: '>', threshold: 2 }) }),
  );
  expect(rule.status).toBe(200);
  return key;
}

/** The dataset, at `base` (a minute start): what is sent, and what each request must answer. */
function dataset(base: number) {
  const at = (s: number) => iso(base + s * 1000);
  const alice = { deviceId: 'phone-1', userId: 'alice', app: 'shop', appVersion: '1.0' };
  const bob = { deviceId: 'laptop-bob', userId: 'bob@corp.example', app: 'shop', appVersion: '2.0' };
  const gw = { deviceId: 'gw-1', app: 'scada' };
  const alarm = (id: string, value: number, s: number) => ({
    id,
    name: 'alarm',
    time: at(s),
    core: gw,
    data: {
      stationId: 'bts-1',
      datapointId: 'dp',
      alarmId: 'hi',
      value,
      valueThreshold: 80,
      isActive: value > 80,
    },
  });
  const first = [
    { id: 'f1', name: 'feature.used', time: at(1), core: alice, data: { feature: 'search' } },
    { id: 'f2', name: 'feature.used', time: at(2), core: alice, data: { feature: 'share' } },
    { id: 'f3', name: 'feature.used', time: at(3), core: alice, custom: { plan: 'pro' } },
    alarm('a1', 90, 4),
    alarm('a2', 91, 5),
    alarm('a3', 92, 6),
    alarm('a4', 50, 7),
    { id: 'b1', name: 'session.start', time: at(8), core: bob, data: { sessionId: 's-bob' } },
    // Late: three hours and two days before, counted in their own windows.
    { id: 'late-1', name: 'view', time: iso(base - 3 * hour), core: alice, data: { contentId: 'home' } },
    {
      id: 'late-2',
      name: 'fault',
      time: iso(base - 2 * 24 * hour),
      core: alice,
      data: { kind: 'Timeout', message: 'slow', fatal: false },
    },
    // Blocked by the tenant's config, and from an opted-out user: dropped.
    { id: 'dbg', name: 'debug.trace', time: at(9), core: alice },
    { id: 'opt', name: 'feature.used', time: at(10), core: { deviceId: 'phone-9', userId: 'opted-user' } },
    // Malformed: rejected, their neighbours accepted.
    { id: 'bad1', name: 'feature.used', time: '2026-02-30T10:00:00Z', core: alice },
    { id: 'bad2', name: 'view', time: at(11), core: alice, data: { contentId: 5 } },
  ];
  // A client retry: two events again, same ids and content.
  const resend = [first[0], first[3]];
  const malformed = [{ name: 'feature.used', time: at(12), core: {} }];
  return { first, resend, malformed };
}

interface Sent {
  base: number;
  answers: {
    status: number;
    body: { accepted: number; rejected: number; dropped: number; errors: { index: number; code: string }[] };
  }[];
}

async function send(key: string, base: number): Promise<Sent> {
  const d = dataset(base);
  const answers: Sent['answers'] = [];
  for (const body of [d.first, d.resend, d.malformed]) {
    const r = await stack.fetch('/api/v1/events', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    answers.push({ status: r.status, body: (await r.json()) as Sent['answers'][number]['body'] });
  }
  return { base, answers };
}

/** Waits until curate, aggregate and users are complete through the state of `sentAt`. */
async function processed(sentAt: number): Promise<void> {
  const state = stateIdOf(sentAt);
  await until(
    'every pipeline complete through the ingest minute',
    async () => {
      const r = await stack.fetch('/api/v1/status', admin());
      const s = (await r.json()) as StatusReport;
      return s.pipelines.every((p) => (p.completedThrough ?? '') >= state) ? true : undefined;
    },
    150_000,
  );
}

async function rawEvents(tenant: string): Promise<{ id: string; partition: string }[]> {
  const out: { id: string; partition: string }[] = [];
  const lake = services().lakeContainer;
  for await (const blob of lake.listBlobsFlat({ prefix: `raw/tenant=${tenant}/` })) {
    const text = gunzipSync(await lake.getBlobClient(blob.name).downloadToBuffer()).toString();
    for (const line of text.split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { id: string; partition: string; tenant: string };
      expect(e.tenant).toBe(tenant);
      out.push({ id: e.id, partition: e.partition });
    }
  }
  return out;
}

async function curatedRows(tenant: string) {
  const dir = await mkdtemp(join(tmpdir(), 'e2e-curated-'));
  try {
    const lake = services().lakeContainer;
    const files: string[] = [];
    for await (const blob of lake.listBlobsFlat({ prefix: `curated/events/tenant=${tenant}/` })) {
      const local = join(dir, blob.name);
      await mkdir(join(local, '..'), { recursive: true });
      await lake.getBlobClient(blob.name).downloadToFile(local);
      files.push(local);
    }
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const reader = await c.runAndReadAll(
      `SELECT id, name, strftime(time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS time, device_id, user_id, user_kind,
         date, hour FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}], hive_partitioning = true, hive_types_autocast = false)
       ORDER BY id`,
    );
    const rows = reader.getRowObjectsJS();
    c.closeSync();
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function query(key: string, path: string) {
  const r = await stack.fetch(path, { headers: { authorization: `Bearer ${key}` } });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** Everything the dataset must have produced for `tenant`, exactly. */
async function expectResults(tenant: string, key: string, sent: Sent): Promise<void> {
  const { base } = sent;
  const p = pseudonymizerFor(secret, tenant);
  // Ingest's answers.
  expect(sent.answers.map((a) => [a.status, a.body.accepted, a.body.rejected, a.body.dropped])).toEqual([
    [202, 10, 2, 2],
    [202, 2, 0, 0],
    [400, 0, 1, 0],
  ]);
  expect(sent.answers.flatMap((a) => a.body.errors.map((e) => `${e.index} ${e.code}`))).toEqual([
    '12 TIME_INVALID',
    '13 INVALID_DATA',
    '0 MISSING_FIELD',
  ]);

  // Raw zone: every accepted event, the resent ones twice, each resend on its first copy's partition.
  const raw = await rawEvents(tenant);
  expect(raw.map((e) => e.id).sort()).toEqual(
    ['f1', 'f1', 'f2', 'f3', 'a1', 'a1', 'a2', 'a3', 'a4', 'b1', 'late-1', 'late-2'].sort(),
  );
  for (const id of ['f1', 'a1'])
    expect(new Set(raw.filter((e) => e.id === id).map((e) => e.partition)).size).toBe(1);

  // Curated: deduplicated, typed, pseudonymised for external users, late events in their own hour.
  const hourOf = (ms: number) => ({ date: iso(ms).slice(0, 10), hour: iso(ms).slice(11, 13) });
  const row = (id: string, name: string, ms: number, device: string, user: string | null, kind: string) => ({
    id,
    name,
    time: iso(ms),
    device_id: device,
    user_id: user,
    user_kind: kind,
    ...hourOf(ms),
  });
  const alice = [p.pseudonym('phone-1'), p.pseudonym('alice')] as const;
  const gw = p.pseudonym('gw-1');
  expect(await curatedRows(tenant)).toEqual([
    row('a1', 'alarm', base + 4000, gw, null, 'external'),
    row('a2', 'alarm', base + 5000, gw, null, 'external'),
    row('a3', 'alarm', base + 6000, gw, null, 'external'),
    row('a4', 'alarm', base + 7000, gw, null, 'external'),
    row('b1', 'session.start', base + 8000, 'laptop-bob', 'bob@corp.example', 'internal'),
    row('f1', 'feature.used', base + 1000, ...alice, 'external'),
    row('f2', 'feature.used', base + 2000, ...alice, 'external'),
    row('f3', 'feature.used', base + 3000, ...alice, 'external'),
    row('late-1', 'view', base - 3 * hour, ...alice, 'external'),
    row('late-2', 'fault', base - 48 * hour, ...alice, 'external'),
  ]);

  // Metric windows through the query API: the minute, and the late events' hour and day.
  const events1m = await query(key, `/api/v1/metrics/events?interval=1m&from=${base}&to=${base + minute}`);
  expect(MetricSeriesSchema.parse(events1m.body).series).toEqual(
    [
      ['alarm', 4],
      ['feature.used', 3],
      ['session.start', 1],
    ].map(([name, value]) => ({ group: { name }, points: [{ start: iso(base), value }] })),
  );
  const alarms = await query(key, `/api/v1/metrics/alarms?interval=1m&from=${base}&to=${base + minute}`);
  expect(alarms.body.series).toEqual([
    {
      group: { 'data.stationId': 'bts-1', 'data.datapointId': 'dp' },
      points: [{ start: iso(base), value: 3 }],
    },
  ]);
  const lateHour = Math.floor((base - 3 * hour) / hour) * hour;
  const views = await query(
    key,
    `/api/v1/metrics/events?interval=1h&from=${lateHour}&to=${lateHour + hour}&name=view`,
  );
  expect(views.body.series).toEqual([
    { group: { name: 'view' }, points: [{ start: iso(lateHour), value: 1 }] },
  ]);
  const lateDay = Math.floor((base - 48 * hour) / (24 * hour)) * 24 * hour;
  const faults = await query(
    key,
    `/api/v1/metrics/faults?interval=1d&from=${lateDay}&to=${lateDay + 24 * hour}`,
  );
  expect(faults.body.series).toEqual([
    { group: { 'data.kind': 'Timeout', 'data.fatal': 'false' }, points: [{ start: iso(lateDay), value: 1 }] },
  ]);

  // User lookups by the ids the apps know.
  const aliceTimes = [base + 1000, base + 2000, base + 3000, base - 3 * hour, base - 48 * hour];
  const days = new Map<string, number>();
  for (const t of aliceTimes) days.set(iso(t).slice(0, 10), (days.get(iso(t).slice(0, 10)) ?? 0) + 1);
  const aliceLookup = await query(key, '/api/v1/users/alice');
  expect(UserLookupSchema.parse(aliceLookup.body)).toEqual({
    tenant,
    user: alice[1],
    firstSeen: iso(base - 48 * hour),
    lastSeen: iso(base + 3000),
    days: [...days].sort((a, b) => (a[0] < b[0] ? 1 : -1)).map(([date, events]) => ({ date, events })),
    apps: ['shop'],
    lastDevice: alice[0],
    lastAppVersion: '1.0',
  });
  expect((await query(key, `/api/v1/users/${encodeURIComponent('bob@corp.example')}`)).body).toMatchObject({
    user: 'bob@corp.example',
    lastDevice: 'laptop-bob',
    lastAppVersion: '2.0',
  });
  expect((await query(key, '/api/v1/users/opted-user')).status).toBe(404);

  // One device's events, deduplicated.
  const device = await query(key, `/api/v1/events?from=${base}&to=${base + minute}&deviceId=phone-1`);
  expect((device.body.events as { id: string }[]).map((e) => e.id)).toEqual(['f1', 'f2', 'f3']);

  // The alert: bts-1 over 2 alarms in the minute, raised once.
  const alerts = await query(key, `/api/v1/alerts?from=${base}&to=${base + minute}`);
  expect(
    (alerts.body.alerts as { rule: string; windowStart: string; value: number; group: object }[]).map((a) => [
      a.rule,
      a.windowStart,
      a.value,
      a.group,
    ]),
  ).toEqual([['busy', iso(base), 3, { 'data.stationId': 'bts-1', 'data.datapointId': 'dp' }]]);
}

/** A moment early in a minute, so that ingest and the stop both happen before the minute closes. */
async function earlyInMinute(): Promise<number> {
  if (Date.now() % minute > 40_000)
    await new Promise((r) => setTimeout(r, minute - (Date.now() % minute) + 200));
  return Math.floor(Date.now() / minute) * minute;
}

describe('end to end through the local stack', () => {
  it('a known dataset through HTTP gives exact results everywhere', async () => {
    const key = await setUpTenant('e2e-a');
    const base = await earlyInMinute();
    const sent = await send(key, base);
    await processed(Date.now());
    await expectResults('e2e-a', key, sent);
    // Telemetry quality, written by ingest once the minute has ended.
    const quality = await until('the quality counts', async () => {
      const s = (await (await stack.fetch('/api/v1/status', admin())).json()) as StatusReport;
      const q =
        s.quality && 'tenants' in s.quality ? s.quality.tenants.find((t) => t.tenant === 'e2e-a') : undefined;
      return q?.requests === 3 ? q : undefined;
    });
    expect(quality).toMatchObject({
      accepted: 12,
      rejected: 3,
      dropped: 2,
      failedRequests: 0,
      topCodes: [
        { code: 'INVALID_DATA', count: 1 },
        { code: 'MISSING_FIELD', count: 1 },
        { code: 'TIME_INVALID', count: 1 },
      ],
    });
  }, 240_000);

  it('the same with the stack stopped after ingest, before any worker ran, and started again', async () => {
    const key = await setUpTenant('e2e-b');
    const base = await earlyInMinute();
    const sent = await send(key, base);
    const sentAt = Date.now();
    // No worker has seen the tenant: its minute has not closed yet.
    for (const pipeline of ['curate', 'aggregate', 'users']) {
      const rows = await listTaskLog(services().table(taskLogTable), pipeline, 'live');
      expect(rows.filter((r) => r.tenant === 'e2e-b')).toEqual([]);
    }
    await stack.stop();
    stack = await start();
    await processed(sentAt);
    await expectResults('e2e-b', key, sent);
  }, 240_000);
});
