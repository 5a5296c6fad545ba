import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeMessage, landingFields, stampLines } from '../../../lib/landing/decode.js';
import { toLandingBatch } from '../../../lib/landing/trigger.js';
import { packed, t0 } from './fixtures.js';

const ndjson = { contentType: 'application/x-ndjson', contentEncoding: 'gzip' };
const msg = (body: Buffer, properties: Record<string, unknown>) => ({
  body,
  sequenceNumber: 1,
  enqueuedTimeMs: t0,
  properties,
});

describe('decodeMessage', () => {
  const line = (id: string, tenant = 'acme') =>
    `{"id":${JSON.stringify(id)},"name":"a","time":"t","tenant":"${tenant}","receivedAt":"r"}`;

  it('unpacks a pack into its lines and the id of each', () => {
    expect(decodeMessage(packed('acme', 1, t0, [line('x'), line('y\\"z')]))).toEqual({
      ok: true,
      tenant: 'acme',
      ndjson: Buffer.from(`${line('x')}\n${line('y\\"z')}\n`),
      lines: 2,
      // As ingest wrote them, escapes kept: compared byte for byte by the workers.
      ids: Buffer.from('x\ny\\\\\\"z\n'),
    });
  });

  it('reads a pack made of several gzip members (ingest compresses large packs in pieces)', () => {
    const body = Buffer.concat([gzipSync(`${line('a')}\n`), gzipSync(`${line('b')}\n`)]);
    expect(decodeMessage(msg(body, { ...ndjson, tenant: 'acme', count: 2 }))).toMatchObject({
      ok: true,
      ndjson: Buffer.from(`${line('a')}\n${line('b')}\n`),
      lines: 2,
    });
  });

  it('adds the final newline a body may lack', () => {
    const decoded = decodeMessage(msg(gzipSync(line('a')), { ...ndjson, tenant: 'acme', count: 1 }));
    expect(decoded).toMatchObject({ ok: true, ndjson: Buffer.from(`${line('a')}\n`), lines: 1 });
  });

  it.each([
    [
      'a body that is not gzip',
      msg(Buffer.from('plain'), { ...ndjson, tenant: 'acme', count: 1 }),
      'BODY_UNDECODABLE',
    ],
    ['a pack without tenant', msg(gzipSync(`${line('a')}\n`), { ...ndjson, count: 1 }), 'TENANT_MISSING'],
    [
      'a tenant that is not a path segment',
      msg(gzipSync(`${line('a')}\n`), { ...ndjson, tenant: '../x', count: 1 }),
      'TENANT_MISSING',
    ],
    [
      'a pack without count',
      msg(gzipSync(`${line('a')}\n`), { ...ndjson, tenant: 'acme' }),
      'NOT_INGEST_FORMAT',
    ],
    [
      'a line that is not an object',
      msg(gzipSync(`${line('a')}\n[1]\n`), { ...ndjson, tenant: 'acme', count: 2 }),
      'LINE_MALFORMED',
    ],
    [
      'a line that does not start with its id',
      msg(gzipSync('{"name":"a","id":"x","tenant":"acme","n":1}\n'), { ...ndjson, tenant: 'acme', count: 1 }),
      'LINE_MALFORMED',
    ],
    [
      'a line of another tenant',
      msg(gzipSync(`${line('a', 'other')}\n`), { ...ndjson, tenant: 'acme', count: 1 }),
      'LINE_MALFORMED',
    ],
    [
      'a count that does not match',
      msg(gzipSync(`${line('a')}\n`), { ...ndjson, tenant: 'acme', count: 2 }),
      'COUNT_MISMATCH',
    ],
    ['plain text', msg(Buffer.from('hello'), {}), 'NOT_INGEST_FORMAT'],
    [
      'a plain JSON event with a tenant property',
      msg(Buffer.from(line('x')), { tenant: 'acme' }),
      'NOT_INGEST_FORMAT',
    ],
  ])('rejects %s', (_, message, code) => {
    const decoded = decodeMessage(message);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.code).toBe(code);
  });

  it('cuts off a gzip bomb instead of inflating it', () => {
    const bomb = gzipSync(Buffer.alloc(80 * 1024 * 1024, 32));
    const decoded = decodeMessage(msg(bomb, { ...ndjson, tenant: 'acme', count: 1 }));
    expect(decoded).toMatchObject({ ok: false, code: 'BODY_UNDECODABLE' });
  });
});

describe('stampLines', () => {
  const fields = landingFields('2026-11-22T10:00:00.000Z', '3', 42);
  const stamped = { enqueuedAt: '2026-11-22T10:00:00.000Z', partition: '3', sequenceNumber: 42 };
  const parse = (b: Buffer) =>
    b
      .toString()
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l));

  it('appends the landing fields to every line, non-ASCII text included', () => {
    const body = Buffer.from('{"id":"a","a":1}\n{"id":"b","name":"café ☕","n":{"x":[1,{}]}}\n');
    expect(parse(stampLines(body, 2, fields))).toEqual([
      { id: 'a', a: 1, ...stamped },
      { id: 'b', name: 'café ☕', n: { x: [1, {}] }, ...stamped },
    ]);
  });
  it('makes the server fields win over client fields of the same name', () => {
    const [event] = parse(stampLines(Buffer.from('{"id":"a","sequenceNumber":-5}\n'), 1, fields));
    expect(event.sequenceNumber).toBe(42);
  });
});

describe('toLandingBatch', () => {
  it('pairs bodies with the trigger metadata arrays', () => {
    const batch = toLandingBatch([Buffer.from('a'), new Uint8Array([98])], {
      partitionContext: { partitionId: '1' },
      enqueuedTimeUtcArray: ['2026-11-22T10:00:00.000Z', '2026-11-22T10:00:01.000Z'],
      sequenceNumberArray: [5, 6],
      propertiesArray: [{ tenant: 'a' }, null],
    });
    expect(batch).toEqual({
      partitionId: '1',
      messages: [
        { body: Buffer.from('a'), sequenceNumber: 5, enqueuedTimeMs: t0, properties: { tenant: 'a' } },
        { body: Buffer.from('b'), sequenceNumber: 6, enqueuedTimeMs: t0 + 1000, properties: {} },
      ],
    });
  });
  it('refuses metadata that does not describe the batch', () => {
    expect(() =>
      toLandingBatch([Buffer.from('a')], {
        partitionContext: { partitionId: '1' },
        enqueuedTimeUtcArray: [],
        sequenceNumberArray: [],
      }),
    ).toThrow('describes 0 events but the batch has 1');
  });
});
