import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Packer, partitionKeyOf } from '../../../lib/ingest/pack.js';

describe('Packer', () => {
  it('groups lines per partition key into gzip NDJSON with the properties', () => {
    const packer = new Packer('t1');
    packer.add('t1:a', '{"n":1}');
    packer.add('t1:b', '{"n":2}');
    packer.add('t1:a', '{"n":3}');
    const packs = packer.finish();
    expect(packs.map((p) => [p.partitionKey, p.properties])).toEqual([
      ['t1:a', { tenant: 't1', count: 2, contentType: 'application/x-ndjson', contentEncoding: 'gzip' }],
      ['t1:b', { tenant: 't1', count: 1, contentType: 'application/x-ndjson', contentEncoding: 'gzip' }],
    ]);
    expect(gunzipSync(packs[0]!.body).toString()).toBe('{"n":1}\n{"n":3}\n');
  });

  it('keeps every gzip body under the pack cap, splitting incompressible input', () => {
    const packer = new Packer('t', { maxPackBytes: 16 * 1024, maxInflatedBytes: 64 * 1024, gzipLevel: 1 });
    const lines = Array.from({ length: 200 }, () =>
      JSON.stringify({ r: randomBytes(300).toString('base64') }),
    );
    for (const line of lines) packer.add('k', line);
    const packs = packer.finish();
    expect(packs.length).toBeGreaterThan(1);
    for (const pack of packs) expect(pack.body.byteLength).toBeLessThanOrEqual(16 * 1024);
    const back = packs.flatMap((p) => gunzipSync(p.body).toString().trimEnd().split('\n'));
    expect(back).toEqual(lines);
    expect(packs.reduce((n, p) => n + p.properties.count, 0)).toBe(200);
  });

  it('partition key is <tenant>:<deviceId>', () => expect(partitionKeyOf('t', 'd')).toBe('t:d'));
});
