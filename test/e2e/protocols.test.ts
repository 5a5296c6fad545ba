import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { DiagLogLevel, diag, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtobufLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevTenant } from '../../dev/tenant.js';
import { pseudonymizerFor } from '../../lib/ingest/privacy.js';
import { services } from '../../lib/services/index.js';
import { tenantStores } from '../../lib/tenants/index.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

/**
 * The standard protocols end to end with the real, unmodified SDKs: Segment's analytics-node
 * and OpenTelemetry's OTLP/HTTP log exporters send to the local host configured with only an
 * endpoint and a key; their events land in the raw zone and curate writes them to Parquet.
 */

const devKey = 'protocols-dev-key-0123456789';
const secret = 'local-development-privacy-secret';
const p = pseudonymizerFor(secret, 'dev');
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    modules: [
      'functions/segment.ts',
      'functions/otlpLogs.ts',
      'functions/land.ts',
      'functions/main.ts',
      'functions/curate.ts',
    ],
    without: ['cosmos'],
    settings: { TELEMETRY_DEV_KEY: devKey, MAIN_SCHEDULE: '*/1 * * * * *', CONFIG_CACHE_SECONDS: '0' },
    adjustHostJson: (h) => {
      h.extensions.queues.maxPollingInterval = 200;
    },
  });
  await ensureDevTenant(tenantStores(services()).tenants, devKey);
}, 120_000);
afterAll(() => stack?.stop());

type Line = Record<string, unknown> & { id: string; receivedAt: string };

/** Every event line of the tenant's raw zone. */
async function rawLines(): Promise<Line[]> {
  const lake = services().lakeContainer;
  const out: Line[] = [];
  if (!(await lake.exists())) return out;
  for await (const blob of lake.listBlobsFlat({ prefix: 'raw/tenant=dev/' })) {
    const text = gunzipSync(await lake.getBlobClient(blob.name).downloadToBuffer()).toString();
    for (const line of text.split('\n').filter(Boolean)) out.push(JSON.parse(line) as Line);
  }
  return out;
}

/** The raw lines of these ids once all have landed, in the order of `ids`. */
async function landed(ids: string[]): Promise<Line[]> {
  return until(
    `events ${ids.join(', ')} in the raw zone`,
    async () => {
      const lines = await rawLines();
      const found = ids.map((id) => lines.find((l) => l.id === id));
      return found.every(Boolean) ? (found as Line[]) : undefined;
    },
    30_000,
  );
}

/** Strips what landing adds (where Event Hubs put the event), which no test can know in advance. */
const envelope = ({ enqueuedAt, partition, sequenceNumber, ...rest }: Line) => rest;

/** Curated rows (Parquet read by DuckDB) of the tenant: id, name, device and user. */
async function curatedRows(): Promise<Record<string, unknown>[]> {
  const dir = await mkdtemp(join(tmpdir(), 'protocols-curated-'));
  try {
    const lake = services().lakeContainer;
    const files: string[] = [];
    for await (const blob of lake.listBlobsFlat({ prefix: 'curated/events/tenant=dev/' })) {
      const local = join(dir, blob.name);
      await mkdir(join(local, '..'), { recursive: true });
      await lake.getBlobClient(blob.name).downloadToFile(local);
      files.push(local);
    }
    if (files.length === 0) return [];
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const reader = await c.runAndReadAll(
      `SELECT id, name, device_id, user_id, app, CAST(data AS VARCHAR) AS data
       FROM read_parquet([${files.map((f) => `'${f}'`).join(', ')}], hive_partitioning = true) ORDER BY id`,
    );
    const rows = reader.getRowObjectsJS();
    c.closeSync();
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const segmentUrl = (route: string) => `${stack.url}/api/v1/segment/v1/${route}`;
const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

describe('Segment HTTP Tracking API', () => {
  const sentAt: string[] = [];

  it('takes track, identify and page calls from analytics-node configured with a host, a path and a write key', async () => {
    const analytics = new Analytics({
      writeKey: devKey,
      host: stack.url,
      path: '/api/v1/segment/v1/batch',
      flushAt: 3,
      maxRetries: 0,
    });
    const errors: unknown[] = [];
    analytics.on('error', (e) => errors.push(e));
    analytics.on('http_request', (r) => sentAt.push((JSON.parse(r.body) as { sentAt: string }).sentAt));
    const responses: number[] = [];
    analytics.on('http_response', (r) => responses.push(r.status));
    const t = Date.now() - 60_000;
    analytics.track({
      messageId: 'seg-track-1',
      userId: 'seg-user',
      event: 'Order Completed',
      properties: { total: 12.5, items: ['a', 'b'] },
      timestamp: new Date(t),
      context: {
        device: { id: 'seg-device' },
        os: { name: 'iOS', version: '17.1' },
        app: { name: 'shop', version: '2.0.1' },
        locale: 'de-DE',
      },
    });
    analytics.identify({
      messageId: 'seg-identify-1',
      userId: 'seg-user',
      traits: { plan: 'pro' },
      timestamp: new Date(t + 1000),
    });
    analytics.page({
      messageId: 'seg-page-1',
      anonymousId: 'seg-anon',
      name: 'Home',
      category: 'Docs',
      properties: { path: '/docs' },
      timestamp: new Date(t + 2000),
    });
    await analytics.closeAndFlush();
    expect(errors).toEqual([]);
    expect(responses).toEqual([200]);
    expect(sentAt).toHaveLength(1);

    const [track, identify, page] = await landed(['seg-track-1', 'seg-identify-1', 'seg-page-1']);
    // Segment's clock-skew correction: receivedAt − (sentAt − timestamp), exactly.
    const corrected = (line: Line, ts: number) =>
      new Date(Date.parse(line.receivedAt) - (Date.parse(sentAt[0]!) - ts)).toISOString();
    const user = p.pseudonym('seg-user');
    expect(envelope(track!)).toEqual({
      id: 'seg-track-1',
      name: 'Order_Completed',
      time: corrected(track!, t),
      tenant: 'dev',
      receivedAt: track!.receivedAt,
      core: {
        deviceId: p.pseudonym('seg-device'),
        userId: user,
        os: 'iOS',
        osVersion: '17.1',
        app: 'shop',
        appVersion: '2.0.1',
        locale: 'de-DE',
        userKind: 'external',
      },
      data: { total: 12.5, items: ['a', 'b'] },
      custom: { event: 'Order Completed' },
    });
    expect(envelope(identify!)).toEqual({
      id: 'seg-identify-1',
      name: 'identify',
      time: corrected(identify!, t + 1000),
      tenant: 'dev',
      receivedAt: identify!.receivedAt,
      // Without a device id or anonymousId, the user is the device.
      core: { deviceId: user, userId: user, userKind: 'external' },
      data: { plan: 'pro' },
    });
    expect(envelope(page!)).toEqual({
      id: 'seg-page-1',
      name: 'page',
      time: corrected(page!, t + 2000),
      tenant: 'dev',
      receivedAt: page!.receivedAt,
      core: { deviceId: p.pseudonym('seg-anon'), userKind: 'external' },
      // analytics-node copies the category into the properties too.
      data: { path: '/docs', category: 'Docs' },
      custom: { name: 'Home', category: 'Docs' },
    });
  });

  it("takes the browser SDK's text/plain, gzip single-event calls with writeKey in the body", async () => {
    const r = await fetch(segmentUrl('t'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' },
      body: gzipSync(
        JSON.stringify({
          writeKey: devKey,
          messageId: 'seg-browser-1',
          anonymousId: 'browser-anon',
          event: 'signup',
          timestamp: new Date(Date.now() - 5000).toISOString(),
          // No sentAt: the timestamp stands as sent.
        }),
      ),
    });
    expect([r.status, await r.json()]).toEqual([
      200,
      { success: true, accepted: 1, rejected: 0, dropped: 0, errors: [] },
    ]);
  });

  it('answers as Segment does: 400 for bad JSON, an oversized body or nothing valid; 401 without a key', async () => {
    const post = async (route: string, body: string | Buffer, headers: Record<string, string> = {}) => {
      const r = await fetch(segmentUrl(route), {
        method: 'POST',
        headers: { authorization: basic(devKey), 'content-type': 'application/json', ...headers },
        body,
      });
      return [r.status, ((await r.json()) as { code?: string }).code];
    };
    expect(await post('batch', '{"batch": [')).toEqual([400, 'BODY_MALFORMED']);
    const big = JSON.stringify({
      batch: [{ type: 'track', event: 'x', userId: 'u', properties: { pad: 'x'.repeat(520_000) } }],
    });
    expect(await post('batch', big)).toEqual([400, 'BODY_TOO_LARGE']);
    expect(await post('import', JSON.stringify({ batch: [{ type: 'track', userId: 'u' }] }))).toEqual([
      400,
      undefined,
    ]);
    expect(await post('track', JSON.stringify({ event: 'x', userId: 'u' }), { authorization: '' })).toEqual([
      401,
      'AUTH_REQUIRED',
    ]);
    expect(await post('track', '{}', { authorization: basic('not-a-key') })).toEqual([401, 'AUTH_INVALID']);
    // A key in the body is checked before the messages are counted or converted: a wrong one is
    // told so whatever the batch holds (nothing, or more messages than a request may carry).
    const keyed = (writeKey: string, batch: unknown[]) => JSON.stringify({ writeKey, batch });
    expect(await post('batch', keyed('not-a-key', []), { authorization: '' })).toEqual([401, 'AUTH_INVALID']);
    const many = Array.from({ length: 5001 }, () => 1);
    expect(await post('batch', keyed('not-a-key', many), { authorization: '' })).toEqual([
      401,
      'AUTH_INVALID',
    ]);
    expect(await post('batch', keyed(devKey, []), { authorization: '' })).toEqual([400, 'NO_EVENTS']);
    expect(await post('batch', keyed(devKey, many), { authorization: '' })).toEqual([400, 'TOO_MANY_EVENTS']);
    expect(await post('nope', '{}')).toEqual([404, 'NOT_FOUND']);
  });
});

/** Raw lines of the tenant whose data.test (a record attribute) is `marker`, once `count` have landed. */
async function landedLogs(marker: string, count: number): Promise<Line[]> {
  return until(
    `${count} log records of ${marker} in the raw zone`,
    async () => {
      const lines = (await rawLines()).filter(
        (l) => (l.data as { test?: string } | undefined)?.test === marker,
      );
      return lines.length >= count ? lines : undefined;
    },
    30_000,
  );
}

describe('OTLP/HTTP logs', () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const spanId = 'b7ad6b7169203331';
  const sec = Math.floor(Date.now() / 1000) - 120;
  const warnings: string[] = [];
  diag.setLogger(
    {
      error: (...a: unknown[]) => warnings.push(`error ${a.join(' ')}`),
      warn: (...a: unknown[]) => warnings.push(a.join(' ')),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );

  /** Sends records through the SDK (LoggerProvider, batch processor, exporter) and flushes. */
  async function emit(exporter: JsonLogExporter | ProtobufLogExporter, marker: string) {
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({
        'service.name': 'checkout',
        'service.version': '1.2.3',
        'host.id': 'host-1',
        'os.type': 'linux',
      }),
      processors: [new BatchLogRecordProcessor({ exporter })],
    });
    const logger = provider.getLogger('protocols-test');
    const context = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1 });
    logger.emit({
      timestamp: [sec, 123_456_789],
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      body: { msg: 'disk almost full', free: 12, big: 2 ** 60 },
      attributes: { 'event.name': 'disk.full', test: marker, ratio: 0.25 },
      context,
    });
    logger.emit({
      eventName: 'checkout.done',
      timestamp: [sec + 1, 5],
      body: 'paid',
      attributes: { test: marker },
    });
    // Eight days old: refused, and reported back as a partial success.
    logger.emit({ timestamp: [sec - 8 * 86_400, 0], body: 'stale', attributes: { test: marker } });
    await provider.forceFlush();
    await provider.shutdown();
  }

  for (const [label, Exporter] of [
    ['JSON', JsonLogExporter],
    ['protobuf', ProtobufLogExporter],
  ] as const) {
    it(`takes records from the ${label} exporter with an endpoint and a key, and reports a partial rejection`, async () => {
      warnings.length = 0;
      const marker = `otlp-${label}`;
      await emit(
        new Exporter({
          url: `${stack.url}/api/v1/otlp/v1/logs`,
          headers: { authorization: `Bearer ${devKey}` },
        }),
        marker,
      );
      // The exporter logs the partialSuccess it decoded (int64 is a string in JSON, a number from protobuf).
      expect(warnings).toEqual([
        `Received Partial Success response: {"rejectedLogRecords":${label === 'JSON' ? '"1"' : '1'},"errorMessage":"1 of 3 log records rejected: record 2: TIME_TOO_OLD at time: time is more than 7 days before the server time: the event is too old to accept"}`,
      ]);
      const lines = (await landedLogs(marker, 2)).sort((a, b) =>
        String(a.time).localeCompare(String(b.time)),
      );
      const core = {
        deviceId: p.pseudonym('host-1'),
        os: 'linux',
        app: 'checkout',
        appVersion: '1.2.3',
        userKind: 'external',
      };
      const nanos = (s: number, ns: number) => `${s}${String(ns).padStart(9, '0')}`;
      expect(lines.map(envelope)).toEqual([
        {
          id: lines[0]!.id,
          name: 'disk.full',
          time: new Date(sec * 1000 + 123).toISOString(),
          tenant: 'dev',
          receivedAt: lines[0]!.receivedAt,
          core,
          data: {
            // An int64 past 2^53 stays exact as a decimal string (protobuf); JSON carried a number.
            body: {
              msg: 'disk almost full',
              free: 12,
              big: label === 'JSON' ? 2 ** 60 : '1152921504606846976',
            },
            'event.name': 'disk.full',
            test: marker,
            ratio: 0.25,
            severityNumber: 13,
            severityText: 'WARN',
            traceId,
            spanId,
            timeUnixNano: nanos(sec, 123_456_789),
            observedTimeUnixNano: (lines[0]!.data as { observedTimeUnixNano: string }).observedTimeUnixNano,
            scope: 'protocols-test',
          },
        },
        {
          id: lines[1]!.id,
          name: 'checkout.done',
          time: new Date((sec + 1) * 1000).toISOString(),
          tenant: 'dev',
          receivedAt: lines[1]!.receivedAt,
          core,
          data: {
            body: 'paid',
            test: marker,
            timeUnixNano: nanos(sec + 1, 5),
            observedTimeUnixNano: (lines[1]!.data as { observedTimeUnixNano: string }).observedTimeUnixNano,
            scope: 'protocols-test',
          },
        },
      ]);
      // Server-assigned ids: the request's keyed digest and the record's position in it, so a
      // resent request maps to the same ids (the two records came in one request).
      expect(lines[0]!.id).toMatch(/^o[0-9a-f]{32}\.0$/);
      expect(lines[1]!.id).toBe(lines[0]!.id.replace(/0$/, '1'));
      for (const l of lines)
        expect((l.data as { observedTimeUnixNano: string }).observedTimeUnixNano).toMatch(/^\d{19}$/);
    });
  }

  it('answers errors as google.rpc.Status in the request encoding; 415 for other types', async () => {
    const post = (type: string, body: string | Uint8Array, key = devKey) =>
      fetch(`${stack.url}/api/v1/otlp/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': type, authorization: `Bearer ${key}` },
        body,
      });
    let r = await post('application/json', '{"resourceLogs": [');
    expect([r.status, r.headers.get('content-type'), ((await r.json()) as { code: number }).code]).toEqual([
      400,
      'application/json',
      3,
    ]);
    r = await post('application/x-protobuf', new Uint8Array([0x0a, 0xff, 0xff]));
    expect([r.status, r.headers.get('content-type')]).toEqual([400, 'application/x-protobuf']);
    // google.rpc.Status: field 1 (code) = 3, then field 2 (message), which starts with the stable code.
    const status = Buffer.from(await r.arrayBuffer());
    expect([status[0], status[1], status[2]]).toEqual([0x08, 3, 0x12]);
    expect(status.subarray(4).toString()).toMatch(
      /^BODY_MALFORMED: The body is not a protobuf ExportLogsServiceRequest/,
    );
    r = await post('application/json', '{}', 'not-a-key');
    expect([r.status, await r.json()]).toEqual([
      401,
      { code: 16, message: 'AUTH_INVALID: The API key is not known: check it or ask for a new one' },
    ]);
    r = await post('text/plain', '{}');
    expect(r.status).toBe(415);
    r = await post('application/json', '{}');
    expect([r.status, await r.json()]).toEqual([200, {}]);
  });
});

describe('the curated zone', () => {
  it('gets every accepted event of both protocols once, typed, read back by DuckDB', async () => {
    const ids = ['seg-browser-1', 'seg-identify-1', 'seg-page-1', 'seg-track-1'];
    const rows = await until(
      'curate to write the protocol events',
      async () => {
        const r = await curatedRows();
        const otlp = r.filter((row) => row.app === 'checkout');
        return ids.every((id) => r.some((row) => row.id === id)) && otlp.length >= 4 ? r : undefined;
      },
      150_000,
    );
    const host = p.pseudonym('host-1');
    const otlp = rows
      .filter((row) => row.app === 'checkout')
      .map((row) => [
        row.name,
        row.device_id,
        row.user_id,
        (JSON.parse(row.data as string) as { test: string }).test,
      ])
      .sort();
    expect(otlp).toEqual([
      ['checkout.done', host, null, 'otlp-JSON'],
      ['checkout.done', host, null, 'otlp-protobuf'],
      ['disk.full', host, null, 'otlp-JSON'],
      ['disk.full', host, null, 'otlp-protobuf'],
    ]);
    const user = p.pseudonym('seg-user');
    expect(rows.filter((row) => row.app !== 'checkout')).toEqual([
      {
        id: 'seg-browser-1',
        name: 'signup',
        device_id: p.pseudonym('browser-anon'),
        user_id: null,
        app: null,
        data: null,
      },
      {
        id: 'seg-identify-1',
        name: 'identify',
        device_id: user,
        user_id: user,
        app: null,
        data: '{"plan":"pro"}',
      },
      {
        id: 'seg-page-1',
        name: 'page',
        device_id: p.pseudonym('seg-anon'),
        user_id: null,
        app: null,
        data: '{"path":"/docs","category":"Docs"}',
      },
      {
        id: 'seg-track-1',
        name: 'Order_Completed',
        device_id: p.pseudonym('seg-device'),
        user_id: user,
        app: 'shop',
        data: '{"total":12.5,"items":["a","b"]}',
      },
    ]);
  }, 180_000);
});
