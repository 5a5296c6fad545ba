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
  it('unpacks a packed body into its lines', () => {
    expect(decodeMessage(packed('acme', 1, t0, ['{"a":1}', '{"b":2}']))).toEqual({
      ok: true,
      tenant: 'acme',
      ndjson: Buffer.from('{"a":1}\n{"b":2}\n'),
      lines: 2,
    });
  });

  it('reads a pack made of several gzip members (ingest compresses large packs in pieces)', () => {
    const body = Buffer.concat([gzipSync('{"a":1}\n'), gzipSync('{"b":2}\n')]);
    expect(decodeMessage(msg(body, { ...ndjson, tenant: 'acme', count: 2 }))).toEqual({
      ok: true,
      tenant: 'acme',
      ndjson: Buffer.from('{"a":1}\n{"b":2}\n'),
      lines: 2,
    });
  });

  it('adds the final newline a body may lack', () => {
    const decoded = decodeMessage(msg(gzipSync('{"a":1}'), { ...ndjson, tenant: 'acme', count: 1 }));
    expect(decoded).toEqual({ ok: true, tenant: 'acme', ndjson: Buffer.from('{"a":1}\n'), lines: 1 });
  });

  it.each([
    ['a body that is not gzip', msg(Buffer.from('plain'), { ...ndjson, tenant: 'acme' }), 'BODY_UNDECODABLE'],
    ['a packed body without tenant', msg(gzipSync('{"a":1}\n'), ndjson), 'TENANT_MISSING'],
    [
      'a tenant that is not a path segment',
      msg(gzipSync('{"a":1}\n'), { ...ndjson, tenant: '../x' }),
      'TENANT_MISSING',
    ],
    [
      'a line that is not an object',
      msg(gzipSync('{"a":1}\n[1]\n'), { ...ndjson, tenant: 'acme' }),
      'BODY_UNDECODABLE',
    ],
    [
      'a count that does not match',
      msg(gzipSync('{"a":1}\n'), { ...ndjson, tenant: 'acme', count: 2 }),
      'COUNT_MISMATCH',
    ],
    ['plain text', msg(Buffer.from('hello'), {}), 'BODY_UNDECODABLE'],
    ['a JSON array', msg(Buffer.from('[{"tenant":"a"}]'), {}), 'BODY_UNDECODABLE'],
    ['a JSON event without tenant', msg(Buffer.from('{"id":"x"}'), {}), 'TENANT_MISSING'],
  ])('rejects %s', (_, message, code) => {
    const decoded = decodeMessage(message);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.code).toBe(code);
  });

  it('cuts off a gzip bomb instead of inflating it', () => {
    const bomb = gzipSync(Buffer.alloc(80 * 1024 * 1024, 32));
    const decoded = decodeMessage(msg(bomb, { ...ndjson, tenant: 'acme' }));
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

  it('appends the landing fields to every line, empty objects and non-ASCII text included', () => {
    const body = Buffer.from('{"a":1}\n{}\n{"name":"café ☕","n":{"x":[1,{}]}}\n');
    expect(parse(stampLines(body, 3, fields))).toEqual([
      { a: 1, ...stamped },
      stamped,
      { name: 'café ☕', n: { x: [1, {}] }, ...stamped },
    ]);
  });
  it('makes the server fields win over client fields of the same name', () => {
    const [event] = parse(stampLines(Buffer.from('{"sequenceNumber":-5}\n'), 1, fields));
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
