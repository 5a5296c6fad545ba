import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { QueueServiceClient } from '@azure/storage-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsContainer } from '../../lib/alerts/evaluate.js';
import { SIGNATURE_HEADER, tenantWebhookSecret, verifySignature } from '../../lib/alerts/signing.js';
import { LOCAL_SECRETS } from '../../lib/config/settings.js';
import { blobLake } from '../../lib/lake/index.js';
import { blockIndexTable } from '../../lib/landing/blockIndex.js';
import { landBatch } from '../../lib/landing/land.js';
import { landingTable } from '../../lib/landing/watermarks.js';
import { builtinMetrics } from '../../lib/metrics/builtin.js';
import type { MetricDefinition } from '../../lib/metrics/definition.js';
import { readSeries } from '../../lib/metrics/query.js';
import { metricsContainer } from '../../lib/metrics/windows.js';
import { services } from '../../lib/services/index.js';
import { listTaskLog, taskLogTable } from '../../lib/tasklog/index.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

const adminKey = 'aggregate-admin-key-0123456789';
let stack: TestStack;

/** A webhook receiver on loopback: what it was sent, answering `status`. */
function receiver(status: number) {
  const received: { body: string; signature: string; alertId: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      received.push({
        body,
        signature: String(req.headers[SIGNATURE_HEADER]),
        alertId: String(req.headers['x-telemetry-alert-id']),
      });
      res.writeHead(status).end();
    });
  });
  return {
    received,
    server,
    async start() {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    },
  };
}
const admin = (init: RequestInit = {}) => ({
  ...init,
  headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json', ...init.headers },
});
const ok = receiver(204);
const broken = receiver(500);

// Two minutes of an hour ago: closed at once (the local Event Hubs partitions are empty).
const base = new Date(Date.now() - 60 * 60_000);
base.setUTCSeconds(0, 0);
const t0 = base.getTime();
const hour = Math.floor(t0 / 3_600_000) * 3_600_000;

/** Station s reports 4 alarm values a minute: 90, 91, 92, 93 for s < 3, and 50 for the others. */
function alarms(minute: number): string[] {
  const out: string[] = [];
  for (let s = 0; s < 5; s++) {
    for (let k = 0; k < 4; k++) {
      const at = t0 + minute * 60_000 + k * 1000;
      out.push(
        JSON.stringify({
          id: `a-${minute}-${s}-${k}`,
          name: 'alarm',
          time: new Date(at).toISOString(),
          tenant: 'acme',
          receivedAt: new Date(at + 100).toISOString(),
          core: { deviceId: `gw-${s}`, userKind: 'external' },
          data: {
            stationId: `bts-${s}`,
            datapointId: 'dp-0',
            alarmId: 'x',
            value: s < 3 ? 90 + k : 50,
            valueThreshold: 80,
            isActive: true,
          },
        }),
      );
    }
  }
  return out;
}

beforeAll(async () => {
  stack = await startTestStack({
    modules: [
      'functions/main.ts',
      'functions/aggregate.ts',
      'functions/metricDefinitions.ts',
      'functions/alertRules.ts',
      'functions/notify.ts',
      'functions/replay.ts',
    ],
    settings: {
      TELEMETRY_ADMIN_KEY: adminKey,
      MAIN_SCHEDULE: '*/1 * * * * *',
      NOTIFY_ALLOW_HTTP_LOOPBACK: 'true',
      NOTIFY_MAX_ATTEMPTS: '2',
      NOTIFY_BACKOFF_SECONDS: '0',
    },
    adjustHostJson: (h) => {
      h.extensions.queues.maxPollingInterval = 200;
    },
  });
  // Alert rules before the data: more than 3 alarms of a station in a minute, to a receiver that
  // takes them and to one that always fails.
  for (const [name, url] of [
    ['busy', await ok.start()],
    ['busy-broken', await broken.start()],
  ] as const) {
    const rule = { metric: 'alarms', window: '1m', op: '>', threshold: 3, webhook: url };
    const r = await stack.fetch(
      `/api/v1/alerts/rules/${name}?tenant=acme`,
      admin({ method: 'PUT', body: JSON.stringify(rule) }),
    );
    expect(r.status).toBe(200);
  }
  const s = services();
  // Landed as the land function lands them, an hour ago.
  for (const [minute, seq] of [
    [0, 0],
    [1, 1],
  ] as const) {
    const lines = alarms(minute);
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
            sequenceNumber: seq,
            enqueuedTimeMs: t0 + minute * 60_000 + 30_000,
            properties: {
              tenant: 'acme',
              count: lines.length,
              contentType: 'application/x-ndjson',
              contentEncoding: 'gzip',
            },
          },
        ],
      },
    );
  }
});
afterAll(async () => {
  ok.server.close();
  broken.server.close();
  await stack?.stop();
});

const definitions = (name = '') => `/api/v1/metrics/definitions/${name}?tenant=acme`;

async function hourValues(metric: MetricDefinition, version: number): Promise<Record<string, number>> {
  const series = await readSeries(
    services().cosmosContainer(metricsContainer),
    { tenant: 'acme', definition: metric, version },
    '1h',
    hour,
    hour + 3_600_000,
  );
  return Object.fromEntries(
    series.series.map((s) => [String(Object.values(s.group)[0]), s.points[0]!.value]),
  );
}

describe('functions: aggregate and metric definitions', () => {
  it('main feeds the aggregate worker; the built-in alarms metric counts each station', async () => {
    await until('both states aggregated', async () => {
      const rows = await listTaskLog(services().table(taskLogTable), 'aggregate', 'live');
      return rows.filter((r) => r.status === 'done').length >= 2 ? true : undefined;
    });
    const alarmsMetric = builtinMetrics.find((m) => m.name === 'alarms')!;
    const series = await readSeries(
      services().cosmosContainer(metricsContainer),
      { tenant: 'acme', definition: alarmsMetric, version: 1 },
      '1h',
      hour,
      hour + 3_600_000,
    );
    expect(series.series.map((s) => [s.group['data.stationId'], s.points[0]!.value])).toEqual([
      ['bts-0', 8],
      ['bts-1', 8],
      ['bts-2', 8],
    ]);
  });

  it('a new definition is rebuilt over history and switched to; a changed one keeps answering with the old version until its rebuild is done', async () => {
    const hot = (over: number) => ({
      events: ['alarm'],
      where: [{ field: 'data.value', op: '>', value: over }],
      groupBy: ['data.stationId'],
      aggregate: { fn: 'count' },
      windows: ['1h'],
    });
    const created = await stack.fetch(
      definitions('hot'),
      admin({ method: 'PUT', body: JSON.stringify(hot(91)) }),
    );
    expect(created.status).toBe(202);
    expect(await created.json()).toMatchObject({
      name: 'hot',
      activeVersion: null,
      rebuilding: { version: 1, replay: 'metric-hot-v1' },
    });

    const v1 = await until('version 1 active', async () => {
      const r = (await (await stack.fetch(definitions('hot'), admin())).json()) as {
        activeVersion: number | null;
        definition: MetricDefinition;
      };
      return r.activeVersion === 1 ? r : undefined;
    });
    // 92 and 93 from 3 stations, 2 minutes.
    expect(await hourValues(v1.definition, 1)).toEqual({ 'bts-0': 4, 'bts-1': 4, 'bts-2': 4 });

    const changed = await stack.fetch(
      definitions('hot'),
      admin({ method: 'PUT', body: JSON.stringify(hot(92)) }),
    );
    expect(changed.status).toBe(202);
    expect(await changed.json()).toMatchObject({ activeVersion: 1, rebuilding: { version: 2 } });
    // The same body again changes nothing.
    const again = await stack.fetch(
      definitions('hot'),
      admin({ method: 'PUT', body: JSON.stringify(hot(92)) }),
    );
    expect(await again.json()).toMatchObject({ activeVersion: 1, rebuilding: { version: 2 } });

    const v2 = await until('version 2 active', async () => {
      const r = (await (await stack.fetch(definitions('hot'), admin())).json()) as {
        activeVersion: number | null;
        definition: MetricDefinition;
      };
      return r.activeVersion === 2 ? r : undefined;
    });
    expect(await hourValues(v2.definition, 2)).toEqual({ 'bts-0': 2, 'bts-1': 2, 'bts-2': 2 });
    // The old version's windows are still there, unchanged.
    expect(await hourValues(v1.definition, 1)).toEqual({ 'bts-0': 4, 'bts-1': 4, 'bts-2': 4 });
  });

  it('the definitions API checks what it is given', async () => {
    const cases: [string, RequestInit, number, string][] = [
      [definitions('events'), { method: 'PUT', body: '{}' }, 409, 'BUILTIN_METRIC'],
      [
        definitions('bad'),
        {
          method: 'PUT',
          body: JSON.stringify({ events: ['x'], aggregate: { fn: 'median' }, windows: ['1h'] }),
        },
        400,
        'METRIC_INVALID',
      ],
      [definitions('nope'), { method: 'GET' }, 404, 'METRIC_NOT_FOUND'],
      ['/api/v1/metrics/definitions/x', { method: 'GET' }, 400, 'TENANT_REQUIRED'],
    ];
    for (const [path, init, status, code] of cases) {
      const r = await stack.fetch(path, admin(init));
      expect([path, r.status, ((await r.json()) as { code: string }).code]).toEqual([path, status, code]);
    }
    const list = (await (await stack.fetch(definitions(), admin())).json()) as {
      metrics: { name: string }[];
    };
    expect(list.metrics.map((m) => m.name)).toEqual([...builtinMetrics.map((m) => m.name), 'hot']);
  });

  it('an alert fires once per station and minute, reaches the webhook signed, and never twice across a replay', async () => {
    const expectedIds = await until('six deliveries', () =>
      ok.received.length >= 6 ? ok.received.map((r) => r.alertId).sort() : undefined,
    );
    const secret = tenantWebhookSecret(LOCAL_SECRETS.WEBHOOK_SIGNING_SECRET, 'acme');
    for (const r of ok.received)
      expect(verifySignature(secret, r.body, r.signature, Math.floor(Date.now() / 1000))).toBe(true);
    expect(
      verifySignature(
        secret,
        `${ok.received[0]!.body} `,
        ok.received[0]!.signature,
        Math.floor(Date.now() / 1000),
      ),
    ).toBe(false);
    const bodies = ok.received.map(
      (r) => JSON.parse(r.body) as { group: Record<string, string>; value: number; windowStart: string },
    );
    expect(bodies.map((b) => `${b.group['data.stationId']} ${b.windowStart} ${b.value}`).sort()).toEqual(
      [0, 1, 2]
        .flatMap((st) => [0, 1].map((m) => `bts-${st} ${new Date(t0 + m * 60_000).toISOString()} 4`))
        .sort(),
    );

    // The same states again: the alerts exist already, nothing is raised or sent twice.
    const replay = await stack.fetch(
      '/api/v1/replay',
      admin({
        method: 'POST',
        body: JSON.stringify({
          pipeline: 'aggregate',
          from: new Date(t0).toISOString(),
          to: new Date(t0 + 60_000).toISOString(),
          id: 'alerts-again',
        }),
      }),
    );
    expect(replay.status).toBe(202);
    await until('the replay done', async () => {
      const rows = await listTaskLog(services().table(taskLogTable), 'aggregate', 'replay-alerts-again');
      return rows.length === 2 && rows.every((r) => r.status === 'done') ? true : undefined;
    });
    const { resources } = await services()
      .cosmosContainer(alertsContainer)
      .items.query("SELECT * FROM c WHERE c.rule = 'busy'")
      .fetchAll();
    expect(resources.map((a) => a.id).sort()).toEqual(expectedIds);
    expect(resources.every((a) => a.delivery.status === 'delivered')).toBe(true);
    expect(ok.received.length).toBe(6);
  });

  it('a webhook that answers 500 is retried, then parked in alerts-poison; aggregation is not held up', async () => {
    const queues = QueueServiceClient.fromConnectionString(stack.settings.TelemetryStorage!);
    const poisoned = await until('six alerts poisoned', async () => {
      const p = await queues
        .getQueueClient('alerts-poison')
        .getProperties()
        .catch(() => undefined);
      return (p?.approximateMessagesCount ?? 0) >= 6 ? p!.approximateMessagesCount : undefined;
    });
    expect(poisoned).toBe(6);
    // Two attempts each (NOTIFY_MAX_ATTEMPTS), and each alert recorded as failed.
    expect(broken.received.length).toBe(12);
    const { resources } = await services()
      .cosmosContainer(alertsContainer)
      .items.query("SELECT * FROM c WHERE c.rule = 'busy-broken'")
      .fetchAll();
    expect(resources.map((a) => [a.delivery.status, a.delivery.attempts, a.delivery.lastError])).toEqual(
      Array(6).fill(['failed', 2, 'HTTP 500']),
    );
    const rows = await listTaskLog(services().table(taskLogTable), 'aggregate', 'live');
    expect(rows.every((r) => r.status === 'done')).toBe(true);
  });
});
