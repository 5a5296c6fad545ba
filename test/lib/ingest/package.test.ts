import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compileBlocklist } from '../../../lib/ingest/blocklist.js';
import { ingestPackage } from '../../../lib/ingest/package.js';
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
  optOut: false,
  optOuts: new Set<string>(),
};
const line = (i: number, name = 'feature.used') =>
  JSON.stringify({ id: `e${i}`, name, time: now - 1000, core: { deviceId: `d${i % 3}` } });

async function run(text: string, gzip = false, latin1 = false) {
  const saved: PackageStats[] = [];
  const publisher = memoryPublisher();
  const raw = Buffer.from(text, latin1 ? 'latin1' : 'utf8');
  const buf = gzip ? gzipSync(raw) : raw;
  const stats = await ingestPackage(
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
      maxPackageBytes: 10 * 1024 * 1024,
      save: async (s) => {
        saved.push(s);
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
