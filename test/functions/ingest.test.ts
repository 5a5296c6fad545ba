import { request } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  EventHubConsumerClient,
  EventHubProducerClient,
  earliestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevTenant } from '../../dev/tenant.js';
import { partitionFor } from '../../lib/ingest/pack.js';
import { services } from '../../lib/services/index.js';
import { tenantStores } from '../../lib/tenants/index.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { until } from '../helpers/until.js';

const devKey = 'integration-dev-key-0123456789';
const adminKey = 'integration-admin-key-0123456789';
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    modules: [
      'functions/setup.ts',
      'functions/ingestEvents.ts',
      'functions/getConfig.ts',
      'functions/putConfig.ts',
      'functions/postPackage.ts',
      'functions/getPackage.ts',
      'functions/health.ts',
      'functions/replay.ts',
      'functions/status.ts',
    ],
    // Ingest needs no Cosmos DB: left unreachable, it is the dependency health reports as down.
    without: ['cosmos'],
    settings: { TELEMETRY_DEV_KEY: devKey, TELEMETRY_ADMIN_KEY: adminKey, CONFIG_CACHE_SECONDS: '0' },
  });
  await ensureDevTenant(tenantStores(services()).tenants, devKey);
});
afterAll(() => stack?.stop());

const auth = { authorization: `Bearer ${devKey}` };
const event = (id: string, name = 'feature.used') => ({
  id,
  name,
  time: new Date().toISOString(),
  core: { deviceId: 'device-1', userId: 'user-1' },
});

/** Event Hubs messages enqueued so far, over every partition (a 2xx means they are in). */
async function enqueuedEvents(): Promise<number> {
  const producer = new EventHubProducerClient(stack.settings.EventHubConnection!, 'telemetry');
  let total = 0;
  for (const id of await producer.getPartitionIds()) {
    const p = await producer.getPartitionProperties(id);
    if (!p.isEmpty) total += p.lastEnqueuedSequenceNumber + 1;
  }
  await producer.close();
  return total;
}

/** A request on a connection of its own (closed afterwards), with its status and JSON body. */
function oneShot(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${stack.url}${path}`,
      {
        method,
        agent: false,
        headers: { ...headers, 'x-functions-key': stack.host.functionKey, connection: 'close' },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Every event in the hub so far, each line with its message's index and partition. */
async function readBack(expected: number): Promise<Record<string, unknown>[]> {
  const consumer = new EventHubConsumerClient('$Default', stack.settings.EventHubConnection!, 'telemetry');
  const received: (ReceivedEventData & { partition: string })[] = [];
  const subscription = consumer.subscribe(
    {
      processEvents: async (events, context) => {
        received.push(...events.map((e) => ({ ...e, partition: context.partitionId })));
      },
      processError: async () => {},
    },
    { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
  );
  const lines = () =>
    received.flatMap((e, message) =>
      gunzipSync(e.body as Buffer)
        .toString()
        .trimEnd()
        .split('\n')
        .map((l) => ({ ...(JSON.parse(l) as Record<string, unknown>), partition: e.partition, message })),
    );
  await until(`${expected} published events`, () => (lines().length >= expected ? true : undefined), 20_000);
  await subscription.close();
  await consumer.close();
  expect(received[0]?.properties).toMatchObject({
    tenant: 'dev',
    contentType: 'application/x-ndjson',
    contentEncoding: 'gzip',
  });
  return lines();
}

describe('ingest through the local host into Event Hubs', () => {
  it('accepts gzip events, publishes packed raw events, and answers with the outcome', async () => {
    const res = await stack.fetch('/api/v1/events', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify([event('a'), { name: 'bad' }, event('b')])),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 2, rejected: 1, dropped: 0, errors: [{ index: 1 }] });
    const lines = await readBack(2);
    expect(lines.map((l) => l.id).sort()).toEqual(['a', 'b']);
    expect(lines[0]).toMatchObject({ tenant: 'dev', core: { userKind: 'external' } });
    expect((lines[0]!.core as { deviceId: string }).deviceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('publishes a gateway of 5,000 devices as one message per partition, each device on its own partition', async () => {
    const events = Array.from({ length: 5000 }, (_, i) => ({
      ...event(`gw-${i}`),
      core: { deviceId: `sensor-${i}` },
    }));
    const res = await stack.fetch('/api/v1/events', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(await res.json()).toMatchObject({ accepted: 5000, rejected: 0 });
    const gateway = (await readBack(5002)).filter((l) => String(l.id).startsWith('gw-'));
    expect(gateway).toHaveLength(5000);
    const ids = ['0', '1', '2', '3'];
    for (const line of gateway) {
      const { deviceId } = line.core as { deviceId: string };
      expect(line.partition).toBe(partitionFor('dev', deviceId, ids));
    }
    // The request's Event Hubs messages: one pack per partition (each ~250 KiB of NDJSON).
    expect(new Set(gateway.map((l) => l.message)).size).toBe(4);
  });

  it('logs a 5xx with its invocation id: health answers 503 naming the dependency that is down', async () => {
    const res = await stack.fetch('/api/health');
    expect(res.status).toBe(503);
    const report = (await res.json()) as { dependencies: Record<string, { status: string }> };
    expect(report.dependencies.cosmos?.status).toBe('error');
    const logged = stack.logs.filter((r) => r.category === 'Function.health' && r.level === 'error');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.message).toMatch(new RegExp(`^invocation ${logged[0]!.invocationId}: 503 .*"cosmos"`));
  });

  it.each([
    [{}, 401],
    [{ authorization: 'Bearer wrong-key-0123456789' }, 401],
  ])('refuses %o with %i', async (headers, status) => {
    const res = await stack.fetch('/api/v1/events', { method: 'POST', headers, body: '[]' });
    expect(res.status).toBe(status);
  });

  it('serves and replaces dynamic config with versions and ETags', async () => {
    const first = await stack.fetch('/api/v1/config', { headers: auth });
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(
      (await stack.fetch('/api/v1/config', { headers: { ...auth, 'if-none-match': etag } })).status,
    ).toBe(304);
    const forbidden = await stack.fetch('/api/v1/config?tenant=dev', {
      method: 'PUT',
      headers: auth,
      body: '{}',
    });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { code: string }).code).toBe('ADMIN_KEY_INVALID');
    const put = await stack.fetch('/api/v1/config?tenant=dev', {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        blocklist: ['debug.*'],
        sampling: {},
        uploadIntervalSeconds: 120,
        optOut: false,
      }),
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ version: 1, blocklist: ['debug.*'] });
    const res = await stack.fetch('/api/v1/events', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([event('c', 'debug.trace')]),
    });
    expect(await res.json()).toEqual({ accepted: 0, rejected: 0, dropped: 1, errors: [] });
  });

  it('changes config only for a named tenant, whole with PUT or merged with PATCH, within a size limit', async () => {
    const admin = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
    const send = async (method: string, query: string, body: string) => {
      const res = await stack.fetch(`/api/v1/config${query}`, { method, headers: admin, body });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect(await send('PUT', '', '{}')).toMatchObject({ status: 400, body: { code: 'TENANT_REQUIRED' } });
    expect(await send('PATCH', '?tenant=nobody', '{}')).toMatchObject({
      status: 404,
      body: { code: 'TENANT_NOT_FOUND' },
    });
    expect(await send('PUT', '?tenant=dev', '{"blocklist":[]}')).toMatchObject({
      status: 400,
      body: { code: 'CONFIG_INVALID', message: expect.stringContaining('send every field, or PATCH') },
    });
    // On a connection of its own: the answer comes before the body is read, and the connection closes.
    const huge = JSON.stringify({ blocklist: Array.from({ length: 30_000 }, (_, i) => `name.${i}`) });
    expect(await oneShot('PATCH', '/api/v1/config?tenant=dev', admin, huge)).toMatchObject({
      status: 413,
      body: { code: 'BODY_TOO_LARGE' },
    });
    const patched = await send('PATCH', '?tenant=dev', '{"uploadIntervalSeconds":300}');
    expect(patched).toMatchObject({
      status: 200,
      body: { uploadIntervalSeconds: 300, blocklist: ['debug.*'] },
    });
  });

  it('refuses events with 503, logged, while the tenant config does not parse, and publishes nothing', async () => {
    const table = services().table('tenantconfig');
    const row = await table.getEntity<{ config: string; version: number }>('dev', 'config');
    await table.upsertEntity(
      { partitionKey: 'dev', rowKey: 'config', config: '{"optOut":', version: row.version },
      'Replace',
    );
    const before = await enqueuedEvents();
    const res = await stack.fetch('/api/v1/events', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify([event('closed-1')]),
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe('TENANT_CONFIG_UNREADABLE');
    expect(await enqueuedEvents()).toBe(before);
    const logged = stack.logs.filter((r) => r.category === 'Function.ingestEvents' && r.level === 'error');
    expect(logged.at(-1)?.message).toMatch(
      new RegExp(`^invocation ${logged.at(-1)?.invocationId}: 503 TENANT_CONFIG_UNREADABLE`),
    );
    await table.upsertEntity(
      { partitionKey: 'dev', rowKey: 'config', config: row.config, version: row.version },
      'Replace',
    );
  });

  it.each([
    ['PUT', '/api/v1/config?tenant=dev'],
    ['PATCH', '/api/v1/config?tenant=dev'],
    ['POST', '/api/v1/replay'],
    ['GET', '/api/v1/status'],
  ])(
    'guards the admin endpoint %s %s by one policy: the admin key, with or without a function key',
    async (method, path) => {
      const call = async (headers: Record<string, string>) => {
        const res = await fetch(`${stack.url}${path}`, {
          method,
          headers,
          body: method === 'GET' ? undefined : '{}',
        });
        return [res.status, ((await res.json()) as { code: string }).code];
      };
      expect(await call({})).toEqual([401, 'ADMIN_KEY_REQUIRED']);
      expect(await call({ 'x-functions-key': stack.host.functionKey })).toEqual([401, 'ADMIN_KEY_REQUIRED']);
      expect(await call({ authorization: `Bearer ${devKey}` })).toEqual([403, 'ADMIN_KEY_INVALID']);
    },
  );

  it('takes a package and reports its statistics', async () => {
    const body = [
      JSON.stringify({ package: { source: 'it', kind: 'backfill' } }),
      JSON.stringify(event('p1')),
      '{',
    ].join('\n');
    const res = await stack.fetch('/api/v1/packages', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
      body,
    });
    expect(res.status).toBe(202);
    const stats = (await res.json()) as { id: string };
    expect(stats).toMatchObject({
      accepted: 1,
      rejected: 1,
      errors: [{ index: 3, code: 'EVENT_MALFORMED' }],
    });
    expect(res.headers.get('location')).toBe(`/api/v1/packages/${stats.id}`);
    const got = await stack.fetch(res.headers.get('location')!, { headers: auth });
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ id: stats.id, status: 'completed', totalLines: 2 });
  });

  it('takes the same file with the same Idempotency-Key once: the resend publishes nothing and gets the first statistics', async () => {
    const file = gzipSync(
      [
        JSON.stringify({ package: { source: 'spool-7', kind: 'spool' } }),
        JSON.stringify(event('i1')),
        JSON.stringify(event('i2')),
      ].join('\n'),
    );
    const upload = (body: Buffer, key: string) =>
      stack.fetch('/api/v1/packages', {
        method: 'POST',
        headers: {
          ...auth,
          'content-type': 'application/x-ndjson',
          'content-encoding': 'gzip',
          'idempotency-key': key,
        },
        body,
      });
    const first = await upload(file, 'spool-7.ndjson.gz');
    expect(first.status).toBe(202);
    const stats = (await first.json()) as { id: string; accepted: number };
    expect(stats).toMatchObject({ accepted: 2, status: 'completed' });
    const before = await enqueuedEvents();
    const again = await upload(file, 'spool-7.ndjson.gz');
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(stats);
    expect(await enqueuedEvents()).toBe(before);
    const other = await upload(
      gzipSync(`${JSON.stringify({ package: { source: 'x', kind: 'spool' } })}\n`),
      'spool-7.ndjson.gz',
    );
    expect(other.status).toBe(422);
    expect(((await other.json()) as { code: string }).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await enqueuedEvents()).toBe(before);
  });

  it.each([
    ['a%2Fb', 400, 'PACKAGE_ID_INVALID'],
    [`${'x'.repeat(65)}`, 400, 'PACKAGE_ID_INVALID'],
    ['0b8a6ea2-59f6-4b8c-9d87-0f2a8d1c1f00', 404, 'NOT_FOUND'],
  ])('answers GET /api/v1/packages/%s with %i %s', async (id, status, code) => {
    const res = await stack.fetch(`/api/v1/packages/${id}`, { headers: auth });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { code: string }).code).toBe(code);
  });
});
