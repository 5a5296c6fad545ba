import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Packer, partitionFor } from '../../../lib/ingest/pack.js';

describe('Packer', () => {
  it('groups lines per partition into gzip NDJSON with the properties', () => {
    const packer = new Packer('t1');
    packer.add('t1:a', '{"n":1}');
    packer.add('t1:b', '{"n":2}');
    packer.add('t1:a', '{"n":3}');
    const packs = packer.finish();
    expect(packs.map((p) => [p.partitionId, p.properties])).toEqual([
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

  it('a background packer compresses large packs on the threadpool and yields what the synchronous one yields', async () => {
    const options = { maxPackBytes: 64 * 1024, maxInflatedBytes: 256 * 1024, gzipLevel: 1 };
    const sync = new Packer('t', options);
    const background = new Packer('t', options, true);
    // Two large compressible groups (compressed in 128 KiB members, split at the inflated cap), a
    // small one, and an incompressible one that has to be split after compression.
    const lines: [string, string][] = [];
    for (let i = 0; i < 12_000; i++)
      lines.push([`k${i % 2}`, JSON.stringify({ n: i, pad: 'x'.repeat(i % 90) })]);
    lines.push(['small', '{"n":"s"}']);
    for (let i = 0; i < 300; i++)
      lines.push(['noise', JSON.stringify({ r: randomBytes(300).toString('base64') })]);
    for (const [key, line] of lines) {
      sync.add(key, line);
      background.add(key, line);
    }
    const expected = sync.finish();
    const packs = await background.finishAsync();
    const view = (list: typeof packs) =>
      list.map((p) => [p.partitionId, p.properties, gunzipSync(p.body).toString()] as const);
    expect(view(packs)).toEqual(view(expected));
    expect(packs.length).toBeGreaterThan(4);
    for (const pack of packs) expect(pack.body.byteLength).toBeLessThanOrEqual(64 * 1024);
    expect(() => background.finish()).toThrow(/finishAsync/);
  });

  it('maps a device to one partition, stably, spreading devices over every partition', () => {
    const ids = ['0', '1', '2', '3'];
    expect(partitionFor('t', 'd', ids)).toBe(partitionFor('t', 'd', ids));
    const seen = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const p = partitionFor('t', `device-${i}`, ids);
      seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(ids);
    for (const n of seen.values()) expect(n).toBeGreaterThan(800);
  });
});
