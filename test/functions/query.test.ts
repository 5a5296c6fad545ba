import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevTenant } from '../../dev/tenant.js';
import { pseudonymizerFor } from '../../lib/ingest/privacy.js';
import { blobLake } from '../../lib/lake/index.js';
import { blockIndexTable } from '../../lib/landing/blockIndex.js';
import { landBatch } from '../../lib/landing/land.js';
import { landingTable } from '../../lib/landing/watermarks.js';
import { services } from '../../lib/services/index.js';
import { listTaskLog, taskLogTable } from '../../lib/tasklog/index.js';
import { tenantStores } from '../../lib/tenants/index.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

const adminKey = 'query-admin-key-0123456789';
const keys = { acme: 'acme-key-0123456789abcdef', globex: 'globex-key-0123456789abcdef' };
const secret = 'local-development-privacy-secret';
let stack: TestStack;

// Two minutes of an hour ago: closed at once (the local Event Hubs partitions are empty).
const base = new Date(Date.now() - 60 * 60_000);
base.setUTCSeconds(0, 0);
const t0 = base.getTime();
const iso = (ms: number) => new Date(ms).toISOString();
const p = (tenant: string) => pseudonymizerFor(secret, tenant);

/**
 * What ingest would have published for tenant acme, per minute m (0, 1): for each of 3 devices
 * (alice's phone, an external user; bob's laptop, internal, ids kept as sent; and a gateway), 2
 * `feature.used` events; from the gateway 4 alarms of stations bts-0 (over the threshold) and
 * bts-1 (under it); one fault from alice.
 */
function acmeEvents(m: number): object[] {
  const at = (s: number) => iso(t0 + m * 60_000 + s * 1000);
  const alice = {
    deviceId: p('acme').pseudonym('phone-1'),
    userId: p('acme').pseudonym('alice'),
    app: 'shop',
    userKind: 'external',
  };
  const bob = {
    deviceId: 'laptop-bob',
    userId: 'bob@acme.example',
    app: 'shop',
    appVersion: '2.0',
    userKind: 'internal',
  };
  const gw = { deviceId: p('acme').pseudonym('gw-1'), app: 'scada', userKind: 'external' };
  const out: object[] = [];
  for (const [who, core] of [
    ['a', alice],
    ['b', bob],
    ['g', gw],
  ] as const) {
    for (let k = 0; k < 2; k++)
      out.push({
        id: `f-${m}-${who}-${k}`,
        name: 'feature.used',
        time: at(10 + k),
        core,
        data: { feature: 'search' },
      });
  }
  for (let k = 0; k < 4; k++) {
    for (const station of [0, 1]) {
      out.push({
        id: `a-${m}-${station}-${k}`,
        name: 'alarm',
        time: at(20 + k),
        core: gw,
        data: {
          stationId: `bts-${station}`,
          datapointId: 'dp',
          alarmId: 'x',
          value: station === 0 ? 90 : 10,
          valueThreshold: 80,
          isActive: true,
        },
      });
    }
  }
  out.push({
    id: `x-${m}`,
    name: 'fault',
    time: at(30),
    core: alice,
    data: { kind: 'crash', message: 'boom', fatal: true },
    custom: { build: 7 },
  });
  return out;
}

async function land(tenant: string, events: object[], sequenceNumber: number, minute: number) {
  const s = services();
  const lines = events.map((e) =>
    JSON.stringify({ ...e, tenant, receivedAt: iso(t0 + minute * 60_000 + 40_000) }),
  );
  await landBatch(
    {
      lake: blobLake(s.lakeContainer),
      blockIndex: s.table(blockIndexTable),
      landing: s.table(landingTable),
      eventHubName: 'telemetry',
      gzipLevel: 1,
      maxBlockBytes: 1 << 20,
    },
    {
      partitionId: '0',
      messages: [
        {
          body: gzipSync(`${lines.join('\n')}\n`),
          sequenceNumber,
          enqueuedTimeMs: t0 + minute * 60_000 + 45_000,
          properties: {
            tenant,
            count: lines.length,
            contentType: 'application/x-ndjson',
            contentEncoding: 'gzip',
          },
        },
      ],
    },
  );
}

const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
const get = async (path: string, key = keys.acme) => {
  const r = await stack.fetch(path, as(key));
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  stack = await startTestStack({
    modules: [
      'functions/main.ts',
      'functions/curate.ts',
      'functions/aggregate.ts',
      'functions/users.ts',
      'functions/alertRules.ts',
      'functions/metricDefinitions.ts',
      'functions/metrics.ts',
      'functions/userLookup.ts',
      'functions/queryEvents.ts',
      'functions/alerts.ts',
    ],
    settings: { TELEMETRY_ADMIN_KEY: adminKey, MAIN_SCHEDULE: '*/1 * * * * *' },
    adjustHostJson: (h) => {
      h.extensions.queues.maxPollingInterval = 200;
    },
  });
  const store = tenantStores(services()).tenants;
  await ensureDevTenant(store, keys.acme, 'acme');
  await ensureDevTenant(store, keys.globex, 'globex');
  // More than 3 alarms of a station in a minute raises an alert (no webhook).
  const rule = await stack.fetch('/api/v1/alerts/rules/busy?tenant=acme', {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminKey}` },
    body: JSON.stringify({ metric: 'alarms', window: '1m', op: '>', threshold: 3 }),
  });
  expect(rule.status).toBe(200);
  await land('acme', acmeEvents(0), 0, 0);
  await land('acme', acmeEvents(1), 1, 1);
  const globex = {
    deviceId: p('globex').pseudonym('phone-1'),
    userId: p('globex').pseudonym('alice'),
    userKind: 'external',
  };
  await land('globex', [{ id: 'g-0', name: 'feature.used', time: iso(t0 + 5000), core: globex }], 2, 0);
  await until(
    'curate, aggregate and users done for both states',
    async () => {
      const log = services().table(taskLogTable);
      for (const pipeline of ['curate', 'aggregate', 'users']) {
        const rows = await listTaskLog(log, pipeline, 'live');
        if (rows.filter((r) => r.status === 'done').length < 3) return undefined;
      }
      return true;
    },
    60_000,
  );
});
afterAll(() => stack?.stop());

const range = `from=${encodeURIComponent(iso(t0))}&to=${encodeURIComponent(iso(t0 + 120_000))}`;

describe('query API', () => {
  it('metrics: per minute and group, zero-filled, filtered by a group field', async () => {
    const events = await get(`/api/v1/metrics/events?interval=1m&${range}`);
    expect(events).toEqual({
      status: 200,
      body: {
        metric: 'events',
        version: 1,
        interval: '1m',
        series: [
          {
            group: { name: 'alarm' },
            points: [
              { start: iso(t0), value: 8 },
              { start: iso(t0 + 60_000), value: 8 },
            ],
          },
          {
            group: { name: 'fault' },
            points: [
              { start: iso(t0), value: 1 },
              { start: iso(t0 + 60_000), value: 1 },
            ],
          },
          {
            group: { name: 'feature.used' },
            points: [
              { start: iso(t0), value: 6 },
              { start: iso(t0 + 60_000), value: 6 },
            ],
          },
        ],
      },
    });
    // Alarms over their threshold, of one station; the minute before is there with a zero.
    const alarms = await get(
      `/api/v1/metrics/alarms?interval=1m&from=${t0 - 60_000}&to=${t0 + 120_000}&data.stationId=bts-0`,
    );
    expect(alarms.body.series).toEqual([
      {
        group: { 'data.stationId': 'bts-0', 'data.datapointId': 'dp' },
        points: [
          { start: iso(t0 - 60_000), value: 0 },
          { start: iso(t0), value: 4 },
          { start: iso(t0 + 60_000), value: 4 },
        ],
      },
    ]);
    // The admin key reads a named tenant; globex sees only its own event.
    const globex = await get(`/api/v1/metrics/events?interval=1h&${range}&tenant=globex`, adminKey);
    const hour = Math.floor(t0 / 3_600_000) * 3_600_000;
    expect(globex.body.series).toEqual([
      {
        group: { name: 'feature.used' },
        points: [hour, hour + 3_600_000]
          .filter((h) => h < t0 + 120_000)
          .map((h) => ({ start: iso(h), value: h === hour ? 1 : 0 })),
      },
    ]);
  });

  it('metrics: bad input is a 400 with a stable code; keys are checked', async () => {
    const cases: [string, string, number, string][] = [
      [`/api/v1/metrics/nope?${range}`, keys.acme, 400, 'METRIC_UNKNOWN'],
      [`/api/v1/metrics/Bad_Name?${range}`, keys.acme, 400, 'METRIC_INVALID'],
      [`/api/v1/metrics/events?interval=2m&${range}`, keys.acme, 400, 'INTERVAL_INVALID'],
      [`/api/v1/metrics/views?interval=1m&${range}`, keys.acme, 400, 'INTERVAL_NOT_KEPT'],
      [`/api/v1/metrics/events?from=yesterday`, keys.acme, 400, 'RANGE_INVALID'],
      [`/api/v1/metrics/events?from=${t0 + 1}&to=${t0}`, keys.acme, 400, 'RANGE_INVALID'],
      [`/api/v1/metrics/events?interval=1m&from=0&to=${t0}`, keys.acme, 400, 'RANGE_TOO_LONG'],
      [`/api/v1/metrics/events?${range}&data.stationId=x`, keys.acme, 400, 'GROUP_FIELD_UNKNOWN'],
      [`/api/v1/metrics/events?${range}`, 'not-a-key', 401, 'AUTH_INVALID'],
      [`/api/v1/metrics/events?${range}&tenant=globex`, keys.acme, 403, 'ADMIN_KEY_INVALID'],
      [`/api/v1/metrics/events?${range}&tenant=nobody`, adminKey, 404, 'TENANT_NOT_FOUND'],
    ];
    for (const [path, key, status, code] of cases) {
      const r = await get(path, key);
      expect([path, r.status, r.body.code]).toEqual([path, status, code]);
      expect(typeof r.body.message).toBe('string');
    }
  });

  it('users: looked up by the id the app knows, pseudonymised as ingest does; internal users as sent', async () => {
    const alice = await get('/api/v1/users/alice');
    const day = iso(t0).slice(0, 10);
    const sameDay = iso(t0 + 60_000).slice(0, 10) === day;
    expect(alice).toEqual({
      status: 200,
      body: {
        tenant: 'acme',
        user: p('acme').pseudonym('alice'),
        firstSeen: iso(t0 + 10_000),
        lastSeen: iso(t0 + 60_000 + 30_000),
        days: sameDay
          ? [{ date: day, events: 6 }]
          : [
              { date: iso(t0 + 60_000).slice(0, 10), events: 3 },
              { date: day, events: 3 },
            ],
        apps: ['shop'],
        lastDevice: p('acme').pseudonym('phone-1'),
        lastAppVersion: null,
      },
    });
    const bob = await get(`/api/v1/users/${encodeURIComponent('bob@acme.example')}`);
    expect(bob.body).toMatchObject({
      user: 'bob@acme.example',
      lastDevice: 'laptop-bob',
      lastAppVersion: '2.0',
    });
    // Another tenant's alice is not acme's, and an unknown user is a 404.
    expect((await get('/api/v1/users/alice', keys.globex)).body.user).toBe(p('globex').pseudonym('alice'));
    expect(await get('/api/v1/users/nobody')).toMatchObject({
      status: 404,
      body: { code: 'USER_NOT_FOUND' },
    });
  });

  it('events: one device, in time order, a page at a time with a continuation', async () => {
    const path = `/api/v1/events?${range}&deviceId=phone-1&limit=3`;
    const pages: {
      events: { id: string; time: string; core: Record<string, string> }[];
      continuation: string | null;
    }[] = [];
    let next: string | null = null;
    do {
      const r = await get(next ? `${path}&continuation=${next}` : path);
      expect(r.status).toBe(200);
      const page = r.body as (typeof pages)[number];
      pages.push(page);
      next = page.continuation;
    } while (next && pages.length < 10);
    expect(pages.map((pg) => pg.events.map((e) => e.id))).toEqual([
      ['f-0-a-0', 'f-0-a-1', 'x-0'],
      ['f-1-a-0', 'f-1-a-1', 'x-1'],
    ]);
    const fault = pages[0]!.events[2]!;
    expect(fault).toEqual({
      id: 'x-0',
      name: 'fault',
      time: iso(t0 + 30_000),
      core: {
        deviceId: p('acme').pseudonym('phone-1'),
        userId: p('acme').pseudonym('alice'),
        app: 'shop',
        userKind: 'external',
      },
      data: { kind: 'crash', message: 'boom', fatal: true },
      custom: { build: 7 },
      receivedAt: iso(t0 + 40_000),
      enqueuedAt: iso(t0 + 45_000),
      partition: '0',
      sequenceNumber: 0,
    });
    // By name, across the tenant's devices; globex's event is never in acme's answer.
    const alarms = await get(`/api/v1/events?${range}&name=alarm&limit=1000`);
    expect((alarms.body.events as { id: string }[]).length).toBe(16);
    expect(alarms.body.continuation).toBeNull();
    const all = await get(`/api/v1/events?${range}&limit=1000`);
    expect((all.body.events as { id: string }[]).some((e) => e.id === 'g-0')).toBe(false);
    expect((all.body.events as { id: string }[]).length).toBe(30);
  });

  it('events: bad input is a 400 with a stable code', async () => {
    const cases: [string, string][] = [
      [`/api/v1/events?from=${t0}&to=${t0 + 25 * 3_600_000}`, 'RANGE_TOO_LONG'],
      [`/api/v1/events?${range}&limit=0`, 'LIMIT_INVALID'],
      [`/api/v1/events?${range}&name=1bad`, 'NAME_INVALID'],
      [`/api/v1/events?${range}&continuation=bm9wZQ`, 'CONTINUATION_INVALID'],
    ];
    for (const [path, code] of cases) {
      const r = await get(path);
      expect([path, r.status, r.body.code]).toEqual([path, 400, code]);
    }
    // A continuation belongs to its query.
    const first = await get(`/api/v1/events?${range}&limit=1`);
    const other = await get(
      `/api/v1/events?${range}&limit=1&name=alarm&continuation=${first.body.continuation}`,
    );
    expect(other.body.code).toBe('CONTINUATION_INVALID');
  });

  it('alerts: the windows that crossed a rule, newest first, by rule', async () => {
    const alerts = await until('two alerts', async () => {
      const r = await get(`/api/v1/alerts?${range}`);
      return (r.body.alerts as unknown[]).length === 2 ? r.body : undefined;
    });
    expect(
      (
        alerts.alerts as {
          rule: string;
          windowStart: string;
          group: object;
          value: number;
          delivery: object;
        }[]
      ).map((a) => [a.rule, a.windowStart, a.group, a.value, a.delivery]),
    ).toEqual(
      [t0 + 60_000, t0].map((w) => [
        'busy',
        iso(w),
        { 'data.stationId': 'bts-0', 'data.datapointId': 'dp' },
        4,
        { status: 'none', attempts: 0 },
      ]),
    );
    expect(alerts.truncated).toBe(false);
    expect((await get(`/api/v1/alerts?${range}&limit=1`)).body.truncated).toBe(true);
    expect((await get(`/api/v1/alerts?${range}&rule=other`)).body.alerts).toEqual([]);
    expect((await get(`/api/v1/alerts?${range}`, keys.globex)).body.alerts).toEqual([]);
    expect((await get(`/api/v1/alerts?from=0&to=${t0}`)).body.code).toBe('RANGE_TOO_LONG');
    expect((await get(`/api/v1/alerts?${range}&rule=Bad!`)).body.code).toBe('RULE_INVALID');
  });
});
