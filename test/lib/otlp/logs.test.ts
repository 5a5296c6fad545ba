import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Limits } from '../../../lib/ingest/limits.js';
import { ExportLogsServiceRequest } from '../../../lib/otlp/codec.js';
import { countLogRecords, type OtlpEncoding, readOtlpLogs } from '../../../lib/otlp/request.js';
import { defaultLimits } from '../../helpers/limits.js';
import { emptyLogRecords, protobufField } from '../../helpers/protobuf.js';
import { testPseudonymizer as p, publishedLines, testRules } from '../../helpers/published.js';
import { root } from '../../helpers/stack.js';

const now = Date.parse('2026-11-22T10:00:00.000Z');
const at = Date.parse('2026-11-22T09:59:00.000Z');
const nanos = `${at}000000`;
const str = (stringValue: string) => ({ stringValue });
const kv = (key: string, value: object) => ({ key, value });
const resource = { attributes: [kv('host.id', str('host-1'))] };

function request(records: unknown[], res: object = resource) {
  return { resourceLogs: [{ resource: res, scopeLogs: [{ scope: { name: 's' }, logRecords: records }] }] };
}

function send(body: string | Uint8Array, encoding: OtlpEncoding = 'json', limits: Limits = defaultLimits) {
  const type = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return readOtlpLogs(
    {
      headers: new Headers({ 'content-type': type }),
      body: (async function* () {
        yield bytes;
      })(),
    },
    encoding,
    limits,
    { nameAttribute: 'event.name', receivedAt: now, digest: (content) => p.digest(content) },
  );
}

/** The id the record at `index` of this JSON body gets: the body's keyed digest and the position. */
const idOf = (body: string, index: number) => `o${p.digest(Buffer.from(body))}.${index}`;

const json = (value: unknown) => JSON.stringify(value);

describe('OTLP log records', () => {
  it('refuses a record whose time no date can hold as TIME_IN_FUTURE, and converts the others', async () => {
    const body = json(
      request([
        { timeUnixNano: '99999999999999999999999999' },
        { timeUnixNano: 1e30 },
        { observedTimeUnixNano: '8640000000000001000000' },
        { timeUnixNano: nanos },
      ]),
    );
    const { items } = await send(body);
    const refused = (field: string) => ({
      error: 'TIME_IN_FUTURE',
      path: field,
      message: `${field} is more than 1 hour after the server time (past the year 275760): send nanoseconds since the Unix epoch`,
    });
    expect(items).toEqual([
      refused('timeUnixNano'),
      refused('timeUnixNano'),
      refused('observedTimeUnixNano'),
      {
        value: {
          id: idOf(body, 3),
          name: 'log',
          time: '2026-11-22T09:59:00.000Z',
          core: { deviceId: 'host-1' },
          data: { timeUnixNano: nanos, scope: 's' },
        },
      },
    ]);
  });

  it('refuses a record nested deeper than INGEST_MAX_DEPTH as EVENT_TOO_DEEP, whatever its depth', async () => {
    // Built as text: JSON.stringify itself recurses, and would overflow at 20,000 levels.
    const nested = (levels: number) =>
      `${'{"arrayValue":{"values":['.repeat(levels)}{"stringValue":"x"}${']}}'.repeat(levels)}`;
    const body = `{"resourceLogs":[{"resource":${json(resource)},"scopeLogs":[{"logRecords":[{"body":${nested(20_000)}},{"attributes":[{"key":"a","value":${nested(10_000)}}]}]}]}]}`;
    expect(body.length).toBeLessThan(defaultLimits.maxBodyBytes);
    const tooDeep = {
      error: 'EVENT_TOO_DEEP',
      path: 'data',
      message: 'The event nests deeper than 16 levels',
    };
    expect((await send(body)).items).toEqual([tooDeep, tooDeep]);
    // The limit is the one /v1/events applies: data is level 2, so 14 nested arrays reach level 16.
    const { items } = await send(
      json(request([{ body: JSON.parse(nested(14)) }, { body: JSON.parse(nested(15)) }])),
    );
    expect(items[1]).toEqual(tooDeep);
    const { outcome } = await publishedLines([items[0]!], testRules(), now);
    expect(outcome).toEqual({ accepted: 1, rejected: 0, dropped: 0, errors: [] });
    // Deeper than protobufjs decodes (its recursion limit): the request is refused as malformed.
    // (Built by hand: protobufjs will not encode it either.)
    let value = protobufField(1, Buffer.from('x')); // AnyValue.string_value
    for (let i = 0; i < 120; i++) value = protobufField(5, protobufField(1, value)); // AnyValue.array_value.values
    const tooDeepProto = protobufField(1, protobufField(2, protobufField(2, protobufField(5, value)))); // resource_logs.scope_logs.log_records.body
    await expect(send(tooDeepProto, 'protobuf')).rejects.toMatchObject({
      code: 'BODY_MALFORMED',
      message: 'The body is not a protobuf ExportLogsServiceRequest (max depth exceeded)',
    });
  });

  it('stops at the record past INGEST_MAX_EVENTS, counting protobuf records on the wire before decoding', async () => {
    const limits = { ...defaultLimits, maxEvents: 3 };
    const tooMany = { code: 'TOO_MANY_EVENTS', message: 'A request carries at most 3 log records: split it' };
    await expect(send(json(request([{}, {}, {}, {}])), 'json', limits)).rejects.toMatchObject(tooMany);
    expect((await send(json(request([{}, {}, {}])), 'json', limits)).items).toHaveLength(3);
    // Three records, then a fourth that does not decode (tag 0x0f: wire type 7): the count refuses
    // the request before the decoder ever reads it.
    const records = [...Array(3).fill([0x12, 0x00]).flat(), 0x12, 0x01, 0x0f];
    const resourceLogs = [0x12, records.length, ...records];
    const body = new Uint8Array([0x0a, resourceLogs.length, ...resourceLogs]);
    await expect(send(body, 'protobuf', limits)).rejects.toMatchObject(tooMany);
    await expect(send(body, 'protobuf', { ...limits, maxEvents: 4 })).rejects.toMatchObject({
      code: 'BODY_MALFORMED',
    });

    // 3.5M empty records (7 MB, within the 8 MiB inflated cap): counted up to 5,001 only.
    const n = 3_500_000;
    const bytes = emptyLogRecords(n);
    expect(countLogRecords(bytes, 5000)).toEqual({ resourceLogs: 1, scopeLogs: 1, logRecords: 5001 });
    expect(countLogRecords(bytes, n)).toEqual({ resourceLogs: 1, scopeLogs: 1, logRecords: n });
    // Empty resources or scopes instead: counted the same way.
    const resources = Buffer.alloc(n * 2, Buffer.from([0x0a, 0x00]));
    expect(countLogRecords(resources, 5000)).toEqual({ resourceLogs: 5001, scopeLogs: 0, logRecords: 0 });
    const scopes = protobufField(1, Buffer.alloc(n * 2, Buffer.from([0x12, 0x00])));
    expect(countLogRecords(scopes, 5000)).toEqual({ resourceLogs: 1, scopeLogs: 5001, logRecords: 0 });
    await expect(
      send(resources, 'protobuf', { ...defaultLimits, maxBodyBytes: 8 << 20 }),
    ).rejects.toMatchObject({
      code: 'TOO_MANY_EVENTS',
      message: 'A request carries at most 5000 log records, resources and scopes each: split it',
    });
    await expect(
      send(bytes, 'protobuf', { ...defaultLimits, maxBodyBytes: 8 * 1024 * 1024 }),
    ).rejects.toMatchObject({
      code: 'TOO_MANY_EVENTS',
      message: 'A request carries at most 5000 log records: split it',
    });
    // Truncated input is malformed, never a hang.
    expect(() => countLogRecords(bytes.subarray(0, 1000), n)).toThrow(RangeError);
  });

  it('keeps trace and span ids that are ids (lower-case hex) and refuses a record whose ids are not', async () => {
    const trace = '0AF7651916CD43DD8448EB211C80319C';
    const span = 'B7AD6B7169203331';
    const body = json(
      request([
        { traceId: trace, spanId: span },
        { traceId: '0'.repeat(32), spanId: '' },
        { traceId: 'not-hex-but-32-characters-long!!' },
        { traceId: trace.slice(2) },
        { spanId: `${span}00` },
        { traceId: 42 },
      ]),
    );
    const { items } = await send(body);
    const badTrace = {
      error: 'EVENT_MALFORMED',
      path: 'traceId',
      message: 'traceId must be 16 bytes: 32 hexadecimal characters in JSON',
    };
    expect(items).toEqual([
      {
        value: {
          id: idOf(body, 0),
          name: 'log',
          time: '2026-11-22T10:00:00.000Z',
          core: { deviceId: 'host-1' },
          data: { traceId: trace.toLowerCase(), spanId: span.toLowerCase(), scope: 's' },
        },
      },
      {
        value: {
          id: idOf(body, 1),
          name: 'log',
          time: '2026-11-22T10:00:00.000Z',
          core: { deviceId: 'host-1' },
          data: { scope: 's' },
        },
      },
      badTrace,
      badTrace,
      {
        error: 'EVENT_MALFORMED',
        path: 'spanId',
        message: 'spanId must be 8 bytes: 16 hexadecimal characters in JSON',
      },
      badTrace,
    ]);
    const proto = ExportLogsServiceRequest.encode(request([{ traceId: new Uint8Array(8) }])).finish();
    // All zeros is the spec's "no id"; any other size is refused.
    const wrongSize = ExportLogsServiceRequest.encode(
      request([{ traceId: new Uint8Array(8).fill(1), spanId: new Uint8Array(8).fill(171) }]),
    ).finish();
    expect((await send(proto, 'protobuf')).items).toEqual([badTrace]);
    expect((await send(wrongSize, 'protobuf')).items).toEqual([badTrace]);
  });

  it('takes the member of an AnyValue read last on the wire; in JSON a `$case` key is only data', async () => {
    // The encoder writes every member that is set, in field order: a string, then a bool.
    const proto = ExportLogsServiceRequest.encode(
      request([{ body: { stringValue: 'first', boolValue: true } }]),
    ).finish();
    const fromProto = (await send(proto, 'protobuf')).items[0] as { value: { data: unknown } };
    expect(fromProto.value.data).toEqual({ body: true, scope: 's' });
    const body = json(request([{ body: { $case: 'kvlistValue', stringValue: 'text' } }]));
    const fromJson = (await send(body)).items[0] as { value: { data: unknown } };
    expect(fromJson.value.data).toEqual({ body: 'text', scope: 's' });
    // The generated decoder names the member in `$case` (npm run gen:otlp post-processes pbjs's
    // output) instead of the oneof setter, which deleted the other seven on every value.
    const generated = await readFile(join(root, 'lib/otlp/generated/logs.js'), 'utf8');
    expect(generated.match(/message\.\$case = "/g)).toHaveLength(8);
    expect(generated).not.toMatch(/message\.value = "/);
  });

  it("pseudonymises record identities in core and the tenant's sensitive attributes: none lands in clear", async () => {
    const res = {
      attributes: [
        kv('host.id', str('host-1')),
        kv('user.id', str('resource-user')),
        kv('session.id', str('resource-session')),
        // Nested resource attributes are not kept, so they are not converted either.
        kv('deep', { kvlistValue: { values: [kv('x', str('y'))] } }),
      ],
    };
    const record = {
      timeUnixNano: nanos,
      body: str('signed in'),
      attributes: [
        kv('user.id', str('alice-id')),
        kv('session.id', { intValue: '42' }),
        kv('email', str('alice@example.com')),
        kv('plan', str('pro')),
        kv('userId', str('seed-user')),
        kv('body', { intValue: 3 }),
      ],
    };
    const endUser = { timeUnixNano: nanos, attributes: [kv('enduser.id', str('bob-id'))] };
    for (const encoding of ['json', 'protobuf'] as const) {
      const message = request([record, endUser, { timeUnixNano: nanos }], res);
      const body = encoding === 'json' ? json(message) : ExportLogsServiceRequest.encode(message).finish();
      const { items } = await send(body, encoding);
      const { outcome, lines } = await publishedLines(items, testRules(['email']), now);
      expect(outcome).toMatchObject({ accepted: 3, rejected: 0 });
      for (const clear of [
        'alice-id',
        'alice@example.com',
        'seed-user',
        'bob-id',
        'resource-user',
        'resource-session',
        '"42"',
      ])
        expect(lines.join('\n')).not.toContain(clear);
      const [alice, bob, plain] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const deviceId = p.pseudonym('host-1');
      expect([alice!.core, alice!.data]).toEqual([
        { deviceId, userId: p.pseudonym('alice-id'), sessionId: p.pseudonym('42'), userKind: 'external' },
        {
          body: 'signed in',
          email: p.pseudonym('alice@example.com'),
          plan: 'pro',
          userId: p.pseudonym('seed-user'),
          'attribute.body': 3,
          timeUnixNano: nanos,
          scope: 's',
        },
      ]);
      expect([bob!.core, plain!.core]).toEqual([
        {
          deviceId,
          userId: p.pseudonym('bob-id'),
          sessionId: p.pseudonym('resource-session'),
          userKind: 'external',
        },
        {
          deviceId,
          userId: p.pseudonym('resource-user'),
          sessionId: p.pseudonym('resource-session'),
          userKind: 'external',
        },
      ]);
    }
  });

  it("ids records by the request's keyed digest and their position: the same when resent, distinct for twins", async () => {
    const body = json(
      request([
        { timeUnixNano: nanos, body: str('x') },
        { timeUnixNano: nanos, body: str('x') },
      ]),
    );
    const ids = async () =>
      (await send(body)).items.map((i) => ('value' in i ? (i.value as { id: string }).id : i));
    const first = await ids();
    expect(first).toEqual([idOf(body, 0), idOf(body, 1)]);
    expect(first[0]).toMatch(/^o[0-9a-f]{32}\.0$/);
    expect(await ids()).toEqual(first);
    // Published with those ids: two identical records stay two events.
    const { outcome, lines } = await publishedLines((await send(body)).items, testRules(), now);
    expect([outcome.accepted, lines.map((l) => (JSON.parse(l) as { id: string }).id)]).toEqual([2, first]);
  });

  it('answers with a code, never a crash, whatever the JSON holds where a message is expected', async () => {
    const odd = [null, 1, 'x', [], {}];
    for (const v of odd) {
      const body = json({
        resourceLogs: [
          v,
          {
            resource: v,
            scopeLogs: [v, { scope: v, logRecords: [v, { attributes: v, body: v, timeUnixNano: v }] }],
          },
          {
            resource: { attributes: [v] },
            scopeLogs: [
              {
                logRecords: [
                  { attributes: [v, { key: 'k', value: { arrayValue: { values: v }, kvlistValue: v } }] },
                ],
              },
            ],
          },
        ],
      });
      const { items } = await send(body);
      // Records of resources without a device: refused, one error each.
      expect(items.map((i) => 'error' in i && i.error)).toEqual(Array(3).fill('EVENT_MALFORMED'));
    }
  });
});
