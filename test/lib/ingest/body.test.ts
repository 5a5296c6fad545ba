import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  bodyFormat,
  decodedChunks,
  isGzip,
  lineBatches,
  parseBody,
  readDecoded,
} from '../../../lib/ingest/body.js';
import { IngestError } from '../../../lib/ingest/errors.js';

async function* chunksOf(buf: Buffer, size = 1000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function codeOf(promise: Promise<unknown>): Promise<[number, string] | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (err instanceof IngestError) return [err.status, err.code];
    throw err;
  }
}

const limits = { maxEvents: 3, maxEventBytes: 100 };

describe('content negotiation', () => {
  it.each([
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    [null, 'json'],
    ['application/x-ndjson', 'ndjson'],
    ['application/ndjson', 'ndjson'],
  ])('%s is %s', (type, format) => expect(bodyFormat(type)).toBe(format));

  it.each(['text/plain', 'application/xml', 'multipart/form-data'])(
    '%s is 415 UNSUPPORTED_MEDIA_TYPE',
    (type) => {
      expect(() => bodyFormat(type)).toThrow(
        expect.objectContaining({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }),
      );
    },
  );

  it.each([
    [null, false],
    ['identity', false],
    ['gzip', true],
    ['GZIP', true],
    ['x-gzip', true],
  ])('encoding %s', (enc, gz) => expect(isGzip(enc)).toBe(gz));

  it.each(['br', 'deflate', 'zstd'])('encoding %s is 415 UNSUPPORTED_ENCODING', (enc) => {
    expect(() => isGzip(enc)).toThrow(expect.objectContaining({ status: 415, code: 'UNSUPPORTED_ENCODING' }));
  });
});

describe('reading with limits', () => {
  const opts = { gzip: false, maxBodyBytes: 2000, maxInflatedBytes: 5000 };

  it('reads a plain body', async () => {
    expect((await readDecoded(chunksOf(Buffer.from('[1,2]')), opts)).toString()).toBe('[1,2]');
  });

  it('inflates gzip', async () => {
    const body = gzipSync('[1,2,3]');
    expect((await readDecoded(chunksOf(body), { ...opts, gzip: true })).toString()).toBe('[1,2,3]');
  });

  it('inflates every member of a multi-member gzip body (the trailer size is only a hint)', async () => {
    const text = `[${'1,'.repeat(1500)}2]`;
    // The last member's trailer declares 2 bytes: the output buffer it sizes is simply outgrown.
    const body = Buffer.concat([gzipSync(text.slice(0, -2)), gzipSync(text.slice(-2))]);
    expect((await readDecoded(chunksOf(body), { ...opts, gzip: true })).toString()).toBe(text);
  });

  it.each([
    ['as-sent bytes over the cap', Buffer.alloc(2001, 32), false, [413, 'BODY_TOO_LARGE']],
    ['inflated bytes over the cap', gzipSync(Buffer.alloc(5001, 32)), true, [413, 'INFLATED_TOO_LARGE']],
    [
      'a gzip body over the as-sent cap',
      gzipSync(Buffer.alloc(64 * 1024 * 1024)),
      true,
      [413, 'BODY_TOO_LARGE'],
    ],
    ['truncated gzip', gzipSync('[1,2,3]').subarray(0, 10), true, [400, 'BODY_MALFORMED']],
    ['not gzip at all', Buffer.from('[1,2,3]'), true, [400, 'BODY_MALFORMED']],
  ])('%s', async (_label, body, gzip, expected) => {
    expect(await codeOf(readDecoded(chunksOf(body), { ...opts, gzip }))).toEqual(expected);
  });

  it('cuts a gzip bomb off at the inflated cap without inflating it whole', async () => {
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024)); // ~256 KiB as sent
    const before = process.memoryUsage().arrayBuffers;
    const result = await codeOf(
      readDecoded(chunksOf(bomb, 64 * 1024), {
        gzip: true,
        maxBodyBytes: 1024 * 1024,
        maxInflatedBytes: 8 * 1024 * 1024,
      }),
    );
    expect(result).toEqual([413, 'INFLATED_TOO_LARGE']);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('refuses a body that inflates more than 100:1 beyond the first 16 KiB, in one call or streamed', async () => {
    const padding = gzipSync(Buffer.alloc(2 * 1024 * 1024, 32), { level: 9 }); // ~2 KiB as sent
    const options = { gzip: true, maxBodyBytes: 1024 * 1024, maxInflatedBytes: 8 * 1024 * 1024 };
    expect(await codeOf(readDecoded(chunksOf(padding), options))).toEqual([
      413,
      'COMPRESSION_RATIO_TOO_HIGH',
    ]);
    let seen = 0;
    const stream = async () => {
      for await (const chunk of decodedChunks(chunksOf(padding, 512), options)) seen += chunk.length;
    };
    expect(await codeOf(stream())).toEqual([413, 'COMPRESSION_RATIO_TOO_HIGH']);
    expect(seen).toBeLessThanOrEqual(padding.length * 100);
  });

  it('takes telemetry that compresses like telemetry (about 10:1)', async () => {
    const events = Array.from({ length: 2000 }, (_, i) => ({
      id: `e-${i}-${(i * 7919) % 10007}`,
      name: 'feature.used',
      time: new Date(Date.UTC(2026, 10, 22, 9, 0, i % 60, i % 1000)).toISOString(),
      core: { deviceId: 'device-42', userId: 'user-42' },
      custom: { n: (i * 31) % 97, screen: ['home', 'map', 'alarms'][i % 3]! },
    }));
    const text = JSON.stringify(events);
    const body = gzipSync(text, { level: 9 });
    const options = { gzip: true, maxBodyBytes: 1024 * 1024, maxInflatedBytes: 8 * 1024 * 1024 };
    expect((await readDecoded(chunksOf(body), options)).toString()).toBe(text);
  });

  it('streams: decodedChunks stops at the inflated cap', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    let seen = 0;
    const run = async () => {
      for await (const chunk of decodedChunks(chunksOf(bomb, 4096), {
        gzip: true,
        maxBodyBytes: 1024 * 1024,
        maxInflatedBytes: 1024 * 1024,
      }))
        seen += chunk.length;
    };
    expect(await codeOf(run())).toEqual([413, 'INFLATED_TOO_LARGE']);
    expect(seen).toBeLessThanOrEqual(1024 * 1024);
  });
});

describe('parseBody', () => {
  it('reads a JSON array', () => {
    expect(parseBody(Buffer.from('[{"a":1},2]'), 'json', limits)).toEqual([
      { value: { a: 1 } },
      { value: 2 },
    ]);
  });

  it('reads {"events": [...]}', () => {
    expect(parseBody(Buffer.from('{"events":[{"a":1}]}'), 'json', limits)).toEqual([{ value: { a: 1 } }]);
  });

  it('reads NDJSON with CRLF and blank lines; a bad line is its own error', () => {
    const items = parseBody(Buffer.from('{"a":1}\r\n\n{bad\n{"b":2}'), 'ndjson', limits);
    expect(items).toHaveLength(3);
    expect(items[0]).toEqual({ value: { a: 1 }, bytes: 7 });
    expect(items[1]).toMatchObject({ error: 'EVENT_MALFORMED' });
    expect(items[2]).toEqual({ value: { b: 2 }, bytes: 7 });
  });

  it('refuses an oversized NDJSON line before parsing it', () => {
    const items = parseBody(Buffer.from(`{"a":"${'x'.repeat(200)}"}\n{"b":1}`), 'ndjson', limits);
    expect(items[0]).toMatchObject({ error: 'EVENT_TOO_LARGE' });
    expect(items[1]).toEqual({ value: { b: 1 }, bytes: 7 });
  });

  it('refuses a JSON body that is not UTF-8 instead of replacing its bytes with U+FFFD', async () => {
    // Three ids that differ only in an invalid byte: decoded leniently they would collapse into one.
    const body = Buffer.concat([
      Buffer.from('[{"id":"a'),
      Buffer.from([0xff]),
      Buffer.from('"},{"id":"a'),
      Buffer.from([0xfe]),
      Buffer.from('"},{"id":"a'),
      Buffer.from([0xc3]),
      Buffer.from('"}]'),
    ]);
    expect(await codeOf((async () => parseBody(body, 'json', limits))())).toEqual([400, 'BODY_NOT_UTF8']);
  });

  it('rejects the NDJSON line that is not UTF-8 and keeps its neighbours', () => {
    const body = Buffer.concat([
      Buffer.from('{"id":"é"}\n{"id":"'),
      Buffer.from([0xe9]), // Latin-1 é: not UTF-8
      Buffer.from('"}\n{"id":"b"}'),
    ]);
    const items = parseBody(body, 'ndjson', limits);
    expect(items[0]).toEqual({ value: { id: 'é' }, bytes: 11 });
    expect(items[1]).toMatchObject({ error: 'EVENT_NOT_UTF8' });
    expect(items[2]).toEqual({ value: { id: 'b' }, bytes: 10 });
  });

  it.each([
    ['invalid JSON', '[1,', 'json', [400, 'BODY_MALFORMED']],
    ['a bare object', '{"a":1}', 'json', [400, 'BODY_SHAPE']],
    ['events not an array', '{"events":1}', 'json', [400, 'BODY_SHAPE']],
    ['a string', '"x"', 'json', [400, 'BODY_SHAPE']],
    ['too many events (array)', '[1,2,3,4]', 'json', [413, 'TOO_MANY_EVENTS']],
    ['too many events (NDJSON)', '1\n2\n3\n4', 'ndjson', [413, 'TOO_MANY_EVENTS']],
    ['more blank lines than events may come', '1\n\n\n\n\r\n2', 'ndjson', [400, 'TOO_MANY_BLANK_LINES']],
  ] as const)('%s', async (_label, text, format, expected) => {
    expect(await codeOf((async () => parseBody(Buffer.from(text), format, limits))())).toEqual(expected);
  });
});

describe('lineBatches', () => {
  async function collect(text: string | Buffer, max: number, size: number) {
    const out: unknown[] = [];
    let blank = 0;
    let batches = 0;
    for await (const b of lineBatches(
      (async function* () {
        for await (const c of chunksOf(Buffer.from(text), size)) yield Buffer.from(c);
      })(),
      max,
      10_000,
    )) {
      batches++;
      blank += b.blank;
      for (const l of b.lines)
        out.push('line' in l ? [l.lineNumber, l.line.toString()] : [l.lineNumber, 'too long']);
    }
    return { lines: out, blank, batches };
  }

  it.each([1, 3, 1000])('splits across chunk boundaries (chunks of %i)', async (size) => {
    const { lines, blank } = await collect(`ab\r\n\ncd\n${'x'.repeat(50)}\nlast`, 20, size);
    expect(lines).toEqual([
      [1, 'ab'],
      [3, 'cd'],
      [4, 'too long'],
      [5, 'last'],
    ]);
    expect(blank).toBe(1);
  });

  it('yields one batch per chunk, however many lines it holds', async () => {
    const { lines, blank, batches } = await collect(`${'{}\n'.repeat(3000)}${'\n'.repeat(3000)}`, 20, 6000);
    expect(lines).toHaveLength(3000);
    expect(blank).toBe(3000);
    expect(batches).toBe(2); // 9,000 + 3,000 bytes in chunks of 6,000
  });

  it('marks a batch UTF-8 only when its whole chunk is', async () => {
    const flags: boolean[] = [];
    const chunks = [Buffer.from('{"a":"é"}\n'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a])];
    for await (const b of lineBatches(
      (async function* () {
        yield* chunks;
      })(),
      100,
      10,
    ))
      flags.push(b.utf8);
    expect(flags).toEqual([true, false]);
  });
});
