import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compileBlocklist, compileSampling } from '../../../lib/ingest/eventRules.js';
import { ingestPackage, type PackageRecords } from '../../../lib/ingest/package.js';
import type { PackageStats } from '../../../lib/ingest/packageStore.js';
import { compilePolicy, Pseudonymizer } from '../../../lib/ingest/privacy.js';
import { emptyPolicy } from '../../../lib/tenants/policy.js';
import { defaultLimits } from '../../helpers/limits.js';
import { memoryPublisher } from '../../helpers/memoryPublisher.js';

const now = Date.parse('2026-11-22T10:00:00.000Z');
const rules = {
  tenant: 't1',
  policy: compilePolicy(emptyPolicy),
  pseudonymizer: Pseudonymizer.forTenant('package-secret-0123456789', 't1'),
  blocklist: compileBlocklist(['debug.*']),
  sampling: compileSampling({}),
  optOut: false,
  optOuts: new Set<string>(),
};
const line = (i: number, name = 'feature.used') =>
  JSON.stringify({ id: `e${i}`, name, time: now - 1000, core: { deviceId: `d${i % 3}` } });

/** Package records that keep what was saved, for uploads without an Idempotency-Key. */
function savedTo(saved: PackageStats[]): PackageRecords {
  return {
    find: async () => undefined,
    claim: async () => true,
    save: async (s) => {
      saved.push(s);
    },
  };
}

async function run(text: string, gzip = false, latin1 = false, saved: PackageStats[] = []) {
  const publisher = memoryPublisher();
  const raw = Buffer.from(text, latin1 ? 'latin1' : 'utf8');
  const buf = gzip ? gzipSync(raw) : raw;
  const { stats } = await ingestPackage(
    {
      headers: new Headers({
        'content-type': 'application/x-ndjson',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      }),
      body: (async function* () {
        for (let i = 0; i < buf.length; i += 777) yield buf.subarray(i, i + 777);
      })(),
    },
    rules,
    {
      publisher,
      clock: () => now,
      limits: defaultLimits,
      deadlineMs: 5000,
      maxPackageBytes: 10 * 1024 * 1024,
      packages: savedTo(saved),
      warn: (message: string) => {
        throw new Error(`unexpected warning: ${message}`);
      },
    },
  );
  return { stats, saved, publisher };
}

const header = JSON.stringify({ package: { source: 'sdk-android', kind: 'spool' } });

describe('ingestPackage', () => {
  it('streams lines, counts them and reports errors by line number', async () => {
    const body = [
      header,
      line(1),
      '{oops',
      line(2, 'debug.x'),
      '',
      line(3),
      JSON.stringify({ name: 'x' }),
    ].join('\n');
    const { stats, saved, publisher } = await run(body, true);
    expect(stats).toMatchObject({
      tenant: 't1',
      source: 'sdk-android',
      kind: 'spool',
      status: 'completed',
      totalLines: 5,
      accepted: 2,
      rejected: 2,
      dropped: 1,
    });
    expect(stats.errors.map((e) => [e.index, e.code])).toEqual([
      [3, 'EVENT_MALFORMED'],
      [7, 'MISSING_FIELD'],
    ]);
    expect(saved).toEqual([stats]);
    expect(publisher.packs.reduce((n, p) => n + p.properties.count, 0)).toBe(2);
  });

  it('rejects a line that is not UTF-8 by its line number, and publishes the rest unchanged', async () => {
    const body = Buffer.concat([
      Buffer.from(`${header}\n${line(1)}\n`),
      Buffer.from(line(2).replace('e2', 'e\u0000')),
      Buffer.from('\n'),
    ]);
    body[body.lastIndexOf(0)] = 0xff; // an invalid byte inside the id of line 3
    const { stats, publisher } = await run(body.toString('latin1'), false, true);
    expect(stats).toMatchObject({ accepted: 1, rejected: 1 });
    expect(stats.errors.map((e) => [e.index, e.code])).toEqual([[3, 'EVENT_NOT_UTF8']]);
    expect(publisher.packs.reduce((n, p) => n + p.properties.count, 0)).toBe(1);
  });

  it('stops a gzip of newlines after 10,000 blank lines, without inflating the rest', async () => {
    const bomb = Buffer.concat([Buffer.from(`${header}\n`), Buffer.alloc(32 * 1024 * 1024, 10)]);
    const err = await run(bomb.toString('latin1'), true, true).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'TOO_MANY_BLANK_LINES' });
  });

  it('refuses a file that inflates more than 100:1 (after the first 16 KiB)', async () => {
    const padding = `${header}\n${' '.repeat(8 * 1024 * 1024)}${line(1)}`;
    const err = await run(padding, true).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 413, code: 'COMPRESSION_RATIO_TOO_HIGH' });
  });

  it('stops after 10,000 rejected lines and saves what it saw as failed', async () => {
    const body = [header, ...Array.from({ length: 300_000 }, () => '{}')].join('\n');
    const saved: PackageStats[] = [];
    const err = await run(body, false, false, saved).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, code: 'TOO_MANY_REJECTED' });
    const stats = saved.at(-1)!;
    expect(stats.status).toBe('failed');
    expect(stats.rejected).toBeGreaterThan(10_000);
    // One chunk of lines is processed at a time, so the reading stops within a chunk of the cap.
    expect(stats.rejected).toBeLessThan(40_000);
    expect(stats.errors).toHaveLength(100);
    expect(stats.errors[0]).toEqual({
      index: 2,
      code: 'MISSING_FIELD',
      path: 'name',
      message: 'name is required',
    });
  });

  it('logs a failed save of a failed package instead of swallowing it, and answers with the failure', async () => {
    const warnings: [string, unknown][] = [];
    const saveError = new Error('Table storage is down');
    const body = `${header}\n${'{}\n'.repeat(12_000)}`;
    const err = await ingestPackage(
      {
        headers: new Headers({ 'content-type': 'application/x-ndjson' }),
        body: (async function* () {
          yield Buffer.from(body);
        })(),
      },
      rules,
      {
        publisher: memoryPublisher(),
        clock: () => now,
        limits: defaultLimits,
        deadlineMs: 5000,
        maxPackageBytes: 1024 * 1024,
        packages: {
          ...savedTo([]),
          save: async () => {
            throw saveError;
          },
        },
        warn: (message, e) => warnings.push([message, e]),
      },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TOO_MANY_REJECTED' });
    expect(warnings).toEqual([
      [
        expect.stringMatching(/^package [0-9a-f-]{36}: its statistics \(status failed\) could not be saved$/),
        saveError,
      ],
    ]);
  });

  it('publishes a large file in chunks', async () => {
    const body = [header, ...Array.from({ length: 5000 }, (_, i) => line(i))].join('\n');
    const { stats, publisher } = await run(body);
    expect(stats.accepted).toBe(5000);
    expect(publisher.packs.length).toBeGreaterThan(3);
  });

  it('says a gzip file sent without Content-Encoding needs that header', async () => {
    const gz = gzipSync(`${header}\n${line(1)}`);
    await expect(run(gz.toString('latin1'), false, true)).rejects.toMatchObject({
      status: 400,
      code: 'BODY_MALFORMED',
      message: expect.stringContaining('add that header'),
    });
  });

  it.each([
    ['no header', line(1)],
    ['an unknown kind', JSON.stringify({ package: { source: 's', kind: 'zip' } })],
    ['an empty file', ''],
    ['a header with extra fields', JSON.stringify({ package: { source: 's', kind: 'spool', x: 1 } })],
  ])('rejects %s with 400 PACKAGE_HEADER', async (_l, text) => {
    await expect(run(`${text}\n${line(1)}`)).rejects.toMatchObject({ status: 400, code: 'PACKAGE_HEADER' });
  });
});
