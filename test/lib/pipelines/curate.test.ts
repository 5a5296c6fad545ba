import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { duckdb, withConnection } from '../../../lib/duckdb/index.js';
import { curateTask } from '../../../lib/pipelines/curate/curate.js';
import { nextStateId } from '../../../lib/temporal/index.js';
import {
  eventLine,
  message,
  minute,
  type PipelineHarness,
  startPipelineHarness,
  stateOf,
  t0,
} from './fixtures.js';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness();
});
afterAll(async () => {
  await h?.stop();
});
beforeEach(async () => {
  await h.reset();
});

const S0 = stateOf(t0);
const S1 = nextStateId(S0);
const lines = (tenant: string, ids: string[], at: number) => ids.map((id) => eventLine(tenant, { id }, at));
const ids = (rows: Record<string, unknown>[]) => rows.map((r) => r.id as string);

/** Curates every task of a state (all shards), in the order given. */
async function curate(stateId: string, tenant = 'acme', maxBytes?: number, horizon?: number) {
  const stats = [];
  for (const task of await h.tasks(stateId, tenant, maxBytes))
    stats.push(await curateTask(h.curateDeps(horizon), task));
  return stats;
}

describe('curate', () => {
  it('writes typed, deduplicated Parquet that DuckDB reads back exactly', async () => {
    await h.land('0', [
      message('acme', 0, t0 + 1000, lines('acme', ['a', 'b', 'a'], t0 + 900)),
      message('acme', 1, t0 + 2000, lines('acme', ['c', 'b'], t0 + 1900)),
    ]);
    const [stats] = await curate(S0);
    expect(stats).toMatchObject({
      blocks: 1,
      eventsRead: 5,
      eventsWritten: 3,
      duplicates: 2,
      badLines: 0,
      unreadableBlocks: 0,
      earlierBlocks: 0,
      files: 2,
    });
    const rows = await h.curated('acme');
    expect(ids(rows)).toEqual(['a', 'b', 'c']);
    // The first occurrence wins: `b` from sequence number 0, not 1.
    expect(rows.map((r) => [r.id, r.sequence_number])).toEqual([
      ['a', '0'],
      ['b', '0'],
      ['c', '1'],
    ]);
    expect(rows[0]).toMatchObject({
      name: 'feature.used',
      device_id: 'dev-1',
      user_id: 'u-1',
      user_kind: 'external',
      os: 'Android',
      app: 'station-monitor',
      tenant: 'acme',
      partition: '0',
      data: '{"n":1}',
      custom: '{"plan":"pro"}',
      date: '2026-11-22',
      hour: '09',
    });

    // Event time decides the partition: `a` and `b` happened at 09:59:59.9, `c` at 10:00:00.9.
    expect(rows.map((r) => `${r.id} ${r.date} ${r.hour}`)).toEqual([
      'a 2026-11-22 09',
      'b 2026-11-22 09',
      'c 2026-11-22 10',
    ]);
    const [file] = await h.paths('curated/');
    expect(file).toBe(`curated/events/tenant=acme/date=2026-11-22/hour=09/${S0}-0.parquet`);
    const local = `${h.tmp}/schema.parquet`;
    await (await import('node:fs/promises')).writeFile(local, (await h.lake.get(file!))!);
    const db = await duckdb({ threads: 1, memoryMb: 512, tempDirectory: `${h.tmp}/duckdb` });
    const schema = await withConnection(db, async (c) =>
      (
        await c.runAndReadAll(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '${local}')`)
      ).getRowObjectsJson(),
    );
    expect(schema).toEqual([
      { column_name: 'id', column_type: 'VARCHAR' },
      { column_name: 'name', column_type: 'VARCHAR' },
      { column_name: 'time', column_type: 'TIMESTAMP WITH TIME ZONE' },
      { column_name: 'device_id', column_type: 'VARCHAR' },
      { column_name: 'user_id', column_type: 'VARCHAR' },
      { column_name: 'session_id', column_type: 'VARCHAR' },
      { column_name: 'user_kind', column_type: 'VARCHAR' },
      { column_name: 'os', column_type: 'VARCHAR' },
      { column_name: 'os_version', column_type: 'VARCHAR' },
      { column_name: 'app', column_type: 'VARCHAR' },
      { column_name: 'app_version', column_type: 'VARCHAR' },
      { column_name: 'locale', column_type: 'VARCHAR' },
      { column_name: 'data', column_type: 'JSON' },
      { column_name: 'custom', column_type: 'JSON' },
      { column_name: 'tenant', column_type: 'VARCHAR' },
      { column_name: 'received_at', column_type: 'TIMESTAMP WITH TIME ZONE' },
      { column_name: 'enqueued_at', column_type: 'TIMESTAMP WITH TIME ZONE' },
      { column_name: 'partition', column_type: 'VARCHAR' },
      { column_name: 'sequence_number', column_type: 'BIGINT' },
    ]);
  });

  it('a task run twice, and twice at once, gives the same rows', async () => {
    await h.land('0', [message('acme', 0, t0 + 1000, lines('acme', ['a', 'b', 'c'], t0))]);
    const [task] = await h.tasks(S0, 'acme');
    await curateTask(h.curateDeps(), task!);
    const once = await h.curated('acme');
    await curateTask(h.curateDeps(), task!);
    await Promise.all([curateTask(h.curateDeps(), task!), curateTask(h.curateDeps(), task!)]);
    expect(await h.curated('acme')).toEqual(once);
    expect(ids(once)).toEqual(['a', 'b', 'c']);
  });

  it('a duplicate across a minute boundary counts once, whichever state runs first; other partitions are not duplicates', async () => {
    await h.land('0', [
      message('acme', 0, t0 + 50_000, lines('acme', ['x', 'y'], t0 + 49_000)),
      // A client retry 20 s later, in the next minute, on the same partition (same device).
      message('acme', 1, t0 + 70_000, lines('acme', ['y', 'z'], t0 + 69_000)),
    ]);
    // The same id from another device, on another partition: not a copy of the same event.
    await h.land('1', [message('acme', 0, t0 + 70_000, lines('acme', ['x'], t0 + 69_000))]);
    const reversed = await curate(S1);
    await curate(S0);
    expect(reversed.map((s) => [s.duplicates, s.eventsWritten, s.earlierBlocks])).toEqual([[1, 2, 1]]);
    const rows = await h.curated('acme');
    expect(rows.map((r) => `${r.id}@${r.partition}:${r.sequence_number}`)).toEqual([
      'x@0:0',
      'x@1:0',
      'y@0:0',
      'z@0:1',
    ]);

    // The same, in order, in a fresh lake: identical rows.
    await h.reset();
    await h.land('0', [
      message('acme', 0, t0 + 50_000, lines('acme', ['x', 'y'], t0 + 49_000)),
      message('acme', 1, t0 + 70_000, lines('acme', ['y', 'z'], t0 + 69_000)),
    ]);
    await h.land('1', [message('acme', 0, t0 + 70_000, lines('acme', ['x'], t0 + 69_000))]);
    await curate(S0);
    await curate(S1);
    expect(await h.curated('acme')).toEqual(rows);
  });

  it('outside the horizon a copy is kept; CURATE_DEDUPE_MINUTES sets how far back', async () => {
    await h.land('0', [
      message('acme', 0, t0, lines('acme', ['x'], t0)),
      message('acme', 1, t0 + 3 * minute, lines('acme', ['x'], t0 + 3 * minute)),
    ]);
    const S3 = nextStateId(S0, 3);
    expect((await curate(S3, 'acme', undefined, 2))[0]).toMatchObject({ duplicates: 0, eventsWritten: 1 });
    expect((await curate(S3, 'acme', undefined, 3))[0]).toMatchObject({ duplicates: 1, eventsWritten: 0 });
  });

  it('a rerun of the same task that writes fewer hour files removes the ones it no longer writes', async () => {
    // The second minute holds a new event and a late copy (an earlier hour) of the first minute's event.
    const late = t0 - 3 * 60 * minute;
    await h.land('0', [
      message('acme', 0, t0, [eventLine('acme', { id: 'old', time: late }, t0)]),
      message('acme', 1, t0 + minute, [
        eventLine('acme', { id: 'new' }, t0 + minute),
        eventLine('acme', { id: 'old', time: late }, t0 + minute),
      ]),
    ]);
    const S1 = nextStateId(S0);
    // Without a horizon the copy is kept: two hour files.
    expect((await curate(S1, 'acme', undefined, 0))[0]).toMatchObject({ files: 2, eventsWritten: 2 });
    const hourOf = (ms: number) => new Date(ms).toISOString().slice(11, 13);
    const lateFile = `curated/events/tenant=acme/date=2026-11-22/hour=${hourOf(late)}/${S1}-0.parquet`;
    const nowFile = `curated/events/tenant=acme/date=2026-11-22/hour=${hourOf(t0)}/${S1}-0.parquet`;
    expect(await h.paths(`curated/events/tenant=acme/`)).toEqual([lateFile, nowFile].sort());
    // The same task with the horizon drops the copy: its late hour's file goes.
    expect((await curate(S1, 'acme', undefined, 60))[0]).toMatchObject({
      files: 1,
      eventsWritten: 1,
      duplicates: 1,
    });
    expect(await h.paths(`curated/events/tenant=acme/`)).toEqual([nowFile]);
  });

  it('a shard split gives the same union of rows as no split, and a duplicate across shards counts once', async () => {
    // Three batches of partition 0 and one of partition 1 in one minute: four blocks.
    for (let b = 0; b < 3; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => `p0-${b}-${i}`);
      if (b === 2) batch.push('p0-0-7'); // a resend of an event of the first batch
      await h.land('0', [message('acme', b, t0 + 1000 * (b + 1), lines('acme', batch, t0))]);
    }
    await h.land('1', [message('acme', 0, t0 + 1000, lines('acme', ['p1-a', 'p1-b'], t0))]);
    const whole = await curate(S0);
    expect(whole).toHaveLength(1);
    const unsplit = await h.curated('acme');
    expect(unsplit).toHaveLength(152);

    // Shards of about one block each (a block here is ~16 KB of NDJSON): partition 0 is cut in
    // three, partition 1 rides along with one of them.
    const split = await curate(S0, 'acme', 20_000);
    expect(split.length).toBe(3);
    expect(split.reduce((n, s) => n + (s.duplicates ?? 0), 0)).toBe(1);
    // The unsplit run's file (shard 0) was overwritten; the new shards add theirs: same union.
    const rows = await h.curated('acme');
    expect(rows).toEqual(unsplit);
    expect((await h.paths('curated/')).length).toBe(3);

    // Back to one shard: the extra shards' files are removed by shard 0.
    await curate(S0);
    expect(await h.paths('curated/')).toEqual([
      `curated/events/tenant=acme/date=2026-11-22/hour=09/${S0}-0.parquet`,
    ]);
    expect(await h.curated('acme')).toEqual(unsplit);
  });

  it('an event 3 days late lands in its own event-hour partition', async () => {
    const late = t0 - 3 * 24 * 60 * minute + 17 * minute;
    await h.land('0', [
      message('acme', 0, t0 + 1000, [
        eventLine('acme', { id: 'now' }, t0 + 900),
        eventLine('acme', { id: 'late', time: late }, t0 + 900),
      ]),
    ]);
    const [stats] = await curate(S0);
    expect(stats).toMatchObject({ eventsWritten: 2, files: 2 });
    expect(await h.paths('curated/')).toEqual([
      `curated/events/tenant=acme/date=2026-11-19/hour=10/${S0}-0.parquet`,
      `curated/events/tenant=acme/date=2026-11-22/hour=09/${S0}-0.parquet`,
    ]);
    const rows = await h.curated('acme');
    expect(rows.map((r) => [r.id, r.date, r.hour, r.time])).toEqual([
      ['late', '2026-11-19', '10', '2026-11-19 10:17:00+00'],
      ['now', '2026-11-22', '09', '2026-11-22 09:59:59.9+00'],
    ]);
  });

  it('a corrupt block and a bad line are dead-lettered with the reason; the rest is written', async () => {
    await h.land('0', [message('acme', 0, t0 + 1000, lines('acme', ['a', 'b'], t0))]);
    await h.land('1', [
      message('acme', 0, t0 + 1000, [
        eventLine('acme', { id: 'c' }, t0),
        // Lands (ingest's layout, the pack's tenant) but is no event: its time is not a time.
        '{"id":"broken","name":"feature.used","time":"yesterday","tenant":"acme","receivedAt":"2026-11-22T10:00:00.000Z"}',
        eventLine('acme', { id: 'd' }, t0),
      ]),
    ]);
    await h.land('2', [message('acme', 0, t0 + 1000, lines('acme', ['e'], t0))]);
    const [corrupt] = await h.paths('raw/tenant=acme/date=2026-11-22/hour=10/minute=00/2-');
    await h.lake.put(corrupt!, Buffer.from('not gzip at all'));

    const [stats] = await curate(S0);
    expect(stats).toMatchObject({
      blocks: 3,
      eventsRead: 5,
      eventsWritten: 4,
      badLines: 1,
      unreadableBlocks: 1,
    });
    expect(ids(await h.curated('acme'))).toEqual(['a', 'b', 'c', 'd']);
    const [dead] = await h.paths('deadletter/curate/');
    expect(dead).toBe(`deadletter/curate/tenant=acme/date=2026-11-22/hour=10/minute=00/${S0}-0.ndjson`);
    const letters = (await h.lake.get(dead!))!
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters.map((l) => [l.block, l.line ?? null, l.reason.split(':')[0]])).toEqual([
      [corrupt, null, 'the block cannot be inflated'],
      ['raw/tenant=acme/date=2026-11-22/hour=10/minute=00/1-0-0.ndjson.gz', 2, 'time'],
    ]);
  });
});
