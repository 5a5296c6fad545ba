import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { builtinMetrics } from '../../../lib/metrics/builtin.js';
import { readSeries } from '../../../lib/metrics/query.js';
import { minutePartialsSql } from '../../../lib/metrics/sql.js';
import type { MetricVersion } from '../../../lib/metrics/windows.js';
import { aggregateTask } from '../../../lib/pipelines/aggregate/aggregate.js';
import { curateTask } from '../../../lib/pipelines/curate/curate.js';
import { nextStateId } from '../../../lib/temporal/index.js';
import { message, minute, type PipelineHarness, startPipelineHarness, stateOf, t0 } from './fixtures.js';

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
const metric = (name: string): MetricVersion => ({
  tenant: 'acme',
  definition: builtinMetrics.find((m) => m.name === name)!,
  version: 1,
});

/** A line as ingest writes it, with any name, core and data. */
function line(
  id: string,
  name: string,
  at: number,
  core: Record<string, string>,
  data: Record<string, unknown>,
) {
  return JSON.stringify({
    id,
    name,
    time: new Date(at).toISOString(),
    tenant: 'acme',
    receivedAt: new Date(at + 500).toISOString(),
    core: { deviceId: 'gw-1', userKind: 'external', ...core },
    data,
  });
}

/**
 * A BTS-style minute: 5 stations × 3 datapoints report alarms (value against a threshold of 80),
 * plus views, faults, sessions and feature use from 4 users of 2 apps.
 */
function dataset(base: number, tag: string): string[] {
  const out: string[] = [];
  let n = 0;
  for (let s = 0; s < 5; s++) {
    for (let dp = 0; dp < 3; dp++) {
      for (let k = 0; k < 4; k++) {
        // Station s, datapoint dp: (s + dp + k) % 4 of 4 readings over the threshold.
        const value = k < (s + dp) % 4 ? 90 + k : 50 + k;
        out.push(
          line(
            `${tag}-a${n++}`,
            'alarm',
            base + k * 1000,
            { app: 'bts' },
            {
              stationId: `bts-${s}`,
              datapointId: `dp-${dp}`,
              alarmId: `al-${s}-${dp}`,
              value,
              valueThreshold: 80,
              isActive: value > 80,
            },
          ),
        );
      }
    }
  }
  for (let u = 0; u < 4; u++) {
    const core = { userId: `u${u}`, app: u % 2 ? 'field' : 'monitor', sessionId: `s${u}` };
    out.push(line(`${tag}-s${u}`, 'session.start', base + 100, core, { sessionId: `s${u}` }));
    out.push(line(`${tag}-v${u}`, 'view', base + 200, core, { contentId: `c${u % 3}` }));
    out.push(line(`${tag}-f${u}`, 'feature.used', base + 300, core, { feature: 'map' }));
    if (u === 0)
      out.push(
        line(`${tag}-x${u}`, 'fault', base + 400, core, { kind: 'crash', message: 'boom', fatal: true }),
      );
  }
  return out;
}

async function runAll(stateId: string, fn: 'curate' | 'aggregate' | 'both' = 'both') {
  const stats = [];
  for (const task of await h.tasks(stateId, 'acme')) {
    if (fn !== 'aggregate') await curateTask(h.curateDeps(), task);
    if (fn !== 'curate') stats.push(await aggregateTask(h.aggregateDeps(), task));
  }
  return stats;
}

async function landDataset() {
  const a = dataset(t0 + 5_000, 'm0');
  const b = dataset(t0 + minute + 5_000, 'm1');
  // Two minutes over two partitions; the second repeats two events of the first (client retries),
  // and one event is three days late.
  const late = line(
    'late-1',
    'fault',
    t0 - 3 * 24 * 60 * minute + 17 * minute,
    { app: 'bts' },
    { kind: 'net', message: 'x', fatal: false },
  );
  await h.land('0', [
    message('acme', 0, t0 + 10_000, a.slice(0, 40)),
    message('acme', 1, t0 + minute + 10_000, [...b.slice(0, 40), a[3]!, late]),
  ]);
  await h.land('1', [
    message('acme', 0, t0 + 10_000, a.slice(40)),
    message('acme', 1, t0 + minute + 10_000, [...b.slice(40), a[45]!]),
  ]);
}

const point = (
  series: Awaited<ReturnType<typeof readSeries>>,
  group: Record<string, string | null>,
  start: number,
) =>
  series.series
    .find((s) => JSON.stringify(s.group) === JSON.stringify(group))
    ?.points.find((p) => p.start === new Date(start).toISOString())?.value;

describe('aggregate', () => {
  it("the built-in alarms metric gives the seed's counts per station and datapoint, per minute, hour and day", async () => {
    await landDataset();
    await runAll(S0, 'aggregate');
    await runAll(S1, 'aggregate');
    const m = metric('alarms');
    const perMinute = await readSeries(h.metrics, m, '1m', t0, t0 + 2 * minute);
    // 5 stations × 3 datapoints; station s, datapoint dp has (s + dp) % 4 alarms over 80 each minute.
    const expected = (s: number, dp: number) => (s + dp) % 4;
    for (let s = 0; s < 5; s++) {
      for (let dp = 0; dp < 3; dp++) {
        const group = { 'data.stationId': `bts-${s}`, 'data.datapointId': `dp-${dp}` };
        const want = expected(s, dp);
        expect([point(perMinute, group, t0), point(perMinute, group, t0 + minute)]).toEqual(
          want ? [want, want] : [undefined, undefined],
        );
      }
    }
    const hourly = await readSeries(h.metrics, m, '1h', t0, t0 + 60 * minute);
    expect(point(hourly, { 'data.stationId': 'bts-2', 'data.datapointId': 'dp-1' }, t0)).toBe(6);
    expect(hourly.series.reduce((n, s) => n + s.points[0]!.value, 0)).toBe(2 * 21);
    const daily = await readSeries(h.metrics, m, '1d', t0, t0 + 1);
    expect(daily.series.reduce((n, s) => n + s.points[0]!.value, 0)).toBe(42);
  });

  it('windows equal a DuckDB query over the curated Parquet of the same events (duplicates once, late events in their window)', async () => {
    await landDataset();
    await runAll(S0);
    await runAll(S1);
    for (const def of builtinMetrics) {
      const m = metric(def.name);
      // The same partial-value SQL, over the curated files instead of the task's events, by hour.
      const rows = await h.sqlOverCurated(
        'acme',
        `SELECT minute // 3600000 * 3600000 AS hour, ${def.groupBy.map((_, i) => `g${i}`).join(', ')}${def.groupBy.length ? ',' : ''}
           ${def.aggregate.fn === 'distinct' ? `count(DISTINCT ${'user_id'})` : 'sum(v)'} AS v
         FROM (${def.aggregate.fn === 'distinct' ? `SELECT epoch_ms(date_trunc('minute', time)) AS minute, ${def.groupBy.map((g, i) => `${g === 'core.app' ? 'app' : g} AS g${i}`).join(', ')}, user_id FROM curated WHERE user_id IS NOT NULL` : minutePartialsSql(def, 'curated')})
         GROUP BY ALL`,
      );
      const hours = [...new Set(rows.map((r) => Number(r.hour)))];
      // Every metric has the dataset's hour; the late fault adds its own hour three days before.
      const late = def.name === 'events' || def.name === 'faults' ? [t0 - 3 * 24 * 60 * minute] : [];
      expect({ metric: def.name, hours: hours.sort() }).toEqual({ metric: def.name, hours: [...late, t0] });
      for (const hour of hours) {
        const series = await readSeries(h.metrics, m, '1h', hour, hour + 60 * minute);
        for (const r of rows.filter((x) => Number(x.hour) === hour)) {
          const group = Object.fromEntries(
            def.groupBy.map((g, i) => [g, (r[`g${i}`] ?? null) as string | null]),
          );
          expect({ metric: def.name, hour, group, value: point(series, group, hour) }).toEqual({
            metric: def.name,
            hour,
            group,
            value: Number(r.v),
          });
        }
      }
    }
    // The late fault counts three days earlier, in its own hour and day.
    const faults = await readSeries(h.metrics, metric('faults'), '1d', t0 - 3 * 24 * 60 * minute, t0 + 1);
    expect(faults.series.map((s) => [s.group, s.points.map((p) => p.value)])).toEqual([
      [{ 'data.kind': 'crash', 'data.fatal': 'true' }, [0, 0, 0, 2]],
      [{ 'data.kind': 'net', 'data.fatal': 'false' }, [1, 0, 0, 0]],
    ]);
    // Duplicates count once: 2 × 60 alarms, 2 resent.
    const events = await readSeries(h.metrics, metric('events'), '1d', t0, t0 + 1);
    expect(events.series.find((s) => s.group.name === 'alarm')!.points[0]!.value).toBe(120);
  });

  it('a task run twice, and twice at once, leaves identical documents', async () => {
    await landDataset();
    const [task] = await h.tasks(S0, 'acme');
    await aggregateTask(h.aggregateDeps(), task!);
    const snapshot = async () =>
      (await h.metrics.items.query('SELECT * FROM c').fetchAll()).resources
        .map(({ _etag, _ts, _rid, _self, _attachments, updatedAt, writtenAt, ...doc }) => doc)
        .sort((a, b) => (a.id < b.id ? -1 : 1));
    const once = await snapshot();
    await aggregateTask(h.aggregateDeps(), task!);
    await Promise.all([aggregateTask(h.aggregateDeps(), task!), aggregateTask(h.aggregateDeps(), task!)]);
    expect(await snapshot()).toEqual(once);
    expect(
      Object.fromEntries(
        ['contribution', 'hour', 'day'].map((k) => [k, once.filter((d) => d.kind === k).length]),
      ),
    ).toEqual({
      // The first minute touches one hour and one day of each of the six built-in metrics.
      contribution: 6,
      hour: 6,
      day: 6,
    });
  });
});
