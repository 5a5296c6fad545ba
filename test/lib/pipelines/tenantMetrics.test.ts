import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MetricDefinition, MetricDefinitionSchema } from '../../../lib/metrics/definition.js';
import { type Interval, readSeries } from '../../../lib/metrics/query.js';
import type { MetricVersion } from '../../../lib/metrics/windows.js';
import { aggregateTask } from '../../../lib/pipelines/aggregate/aggregate.js';
import { nextStateId } from '../../../lib/temporal/index.js';
import { message, minute, type PipelineHarness, startPipelineHarness, stateOf, t0 } from './fixtures.js';

/**
 * Tenant-declared metrics (sum, min, max, count; `!=`, `in`, `exists`, a field against another
 * field; groupBy a core, data and custom field) against an oracle written here in plain
 * TypeScript over the same events, for every 1m, 1h and 1d window: same groups, same values.
 */
let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipelineHarness();
  await h.reset();
});
afterAll(() => h?.stop());

interface Reading {
  id: string;
  at: number;
  app: string;
  data: { site: string; value: number; limit: number; unit: string; flag?: boolean };
  custom: { region: string };
}

const sites = ['a', 'b', 'c'];
function readings(base: number, tag: string): Reading[] {
  return Array.from({ length: 36 }, (_, i) => ({
    id: `${tag}-${i}`,
    at: base + i * 1000,
    app: i % 3 === 0 ? 'field' : 'monitor',
    data: {
      site: sites[i % 3]!,
      value: ((i * 37) % 101) - 20,
      limit: 40,
      unit: i % 4 === 0 ? 'F' : 'C',
      ...(i % 5 === 0 ? { flag: true } : {}),
    },
    custom: { region: i % 2 ? 'eu' : 'us' },
  }));
}

const toLine = (r: Reading) =>
  JSON.stringify({
    id: r.id,
    name: 'sensor.reading',
    time: new Date(r.at).toISOString(),
    tenant: 'acme',
    receivedAt: new Date(r.at + 500).toISOString(),
    core: { deviceId: 'gw-1', userKind: 'external', app: r.app },
    data: r.data,
    custom: r.custom,
  });

const day = 24 * 60 * minute;
const dayStart = () => Math.floor(t0 / day) * day;
const define = (d: unknown) => MetricDefinitionSchema.parse(d);
const metrics: {
  def: MetricDefinition;
  pass: (r: Reading) => boolean;
  group: (r: Reading) => string;
  value: (r: Reading) => number;
}[] = [
  {
    def: define({
      name: 'celsius-sum',
      events: ['sensor.reading'],
      where: [{ field: 'data.unit', op: '!=', value: 'F' }],
      groupBy: ['custom.region'],
      aggregate: { fn: 'sum', field: 'data.value' },
      windows: ['1m', '1h', '1d'],
    }),
    pass: (r) => r.data.unit !== 'F',
    group: (r) => r.custom.region,
    value: (r) => r.data.value,
  },
  {
    def: define({
      name: 'ab-min',
      events: ['sensor.reading'],
      where: [{ field: 'data.site', op: 'in', value: ['a', 'b'] }],
      groupBy: ['data.site'],
      aggregate: { fn: 'min', field: 'data.value' },
      windows: ['1m', '1h', '1d'],
    }),
    pass: (r) => r.data.site === 'a' || r.data.site === 'b',
    group: (r) => r.data.site,
    value: (r) => r.data.value,
  },
  {
    def: define({
      name: 'flagged-max',
      events: ['sensor.*'],
      where: [{ field: 'data.flag', op: 'exists' }],
      groupBy: ['core.app'],
      aggregate: { fn: 'max', field: 'data.value' },
      windows: ['1m', '1h', '1d'],
    }),
    pass: (r) => r.data.flag !== undefined,
    group: (r) => r.app,
    value: (r) => r.data.value,
  },
  {
    def: define({
      name: 'over-limit',
      events: ['*'],
      where: [{ field: 'data.value', op: '>', valueField: 'data.limit' }],
      groupBy: ['data.site'],
      aggregate: { fn: 'count' },
      windows: ['1m', '1h', '1d'],
    }),
    pass: (r) => r.data.value > r.data.limit,
    group: (r) => r.data.site,
    value: () => 1,
  },
];

/** The oracle: group → bucket start → value, over unique events, as a metric series reads. */
function expected(
  m: (typeof metrics)[number],
  events: Reading[],
  step: number,
  from: number,
  count: number,
): Record<string, number[]> {
  const fn = m.def.aggregate.fn;
  const out: Record<string, (number | undefined)[]> = {};
  for (const r of events) {
    if (!m.pass(r)) continue;
    const g = m.group(r);
    const i = Math.floor((r.at - from) / step);
    out[g] ??= Array.from({ length: count }, () => undefined);
    const prev = out[g][i];
    const v = m.value(r);
    out[g][i] =
      prev === undefined ? v : fn === 'min' ? Math.min(prev, v) : fn === 'max' ? Math.max(prev, v) : prev + v;
  }
  return Object.fromEntries(Object.entries(out).map(([g, vs]) => [g, vs.map((v) => v ?? 0)]));
}

async function actual(m: MetricVersion, interval: Interval, from: number, to: number) {
  const series = await readSeries(h.metrics, m, interval, from, to);
  return Object.fromEntries(
    series.series.map((s) => [Object.values(s.group)[0], s.points.map((p) => p.value)]),
  );
}

describe('tenant metrics', () => {
  it('sum, min, max and count with !=, in, exists and field-against-field conditions, grouped by custom, data and core fields, equal a plain oracle in every window', async () => {
    const first = readings(t0 + 2_000, 'm0');
    const second = readings(t0 + minute + 2_000, 'm1');
    // A client retry of two events of the first minute arrives with the second: counted once.
    await h.land('0', [
      message('acme', 0, t0 + 50_000, first.map(toLine)),
      message('acme', 1, t0 + minute + 50_000, [...second, first[4]!, first[9]!].map(toLine)),
    ]);
    const versions = metrics.map((m) => ({ tenant: 'acme', definition: m.def, version: 1 }));
    const S0 = stateOf(t0);
    for (const stateId of [S0, nextStateId(S0)])
      for (const task of await h.tasks(stateId, 'acme')) await aggregateTask(h.aggregateDeps(versions), task);

    const events = [...first, ...second];
    for (const [k, m] of metrics.entries()) {
      const v = versions[k]!;
      expect({ m: m.def.name, w: '1m', s: await actual(v, '1m', t0, t0 + 2 * minute) }).toEqual({
        m: m.def.name,
        w: '1m',
        s: expected(m, events, minute, t0, 2),
      });
      expect({ m: m.def.name, w: '1h', s: await actual(v, '1h', t0, t0 + 60 * minute) }).toEqual({
        m: m.def.name,
        w: '1h',
        s: expected(m, events, 60 * minute, t0, 1),
      });
      expect({ m: m.def.name, w: '1d', s: await actual(v, '1d', dayStart(), dayStart() + day) }).toEqual({
        m: m.def.name,
        w: '1d',
        s: expected(m, events, day, dayStart(), 1),
      });
    }
    // Longer intervals sum the stored windows, from `from` aligned down to 12 h or to the day:
    // 12h from 11-21 00:00 (five buckets, t0 in the third), 7d from 11-19 (three, t0 in the
    // first), 30d from 10-13 (three, t0 in the second).
    const over = versions[3]!;
    const total = expected(metrics[3]!, events, day, dayStart(), 1);
    const all = Object.fromEntries(Object.entries(total).map(([g, [v]]) => [g, v!]));
    expect(await actual(over, '12h', t0 - day, t0 + day)).toEqual(
      Object.fromEntries(Object.entries(all).map(([g, v]) => [g, [0, 0, v, 0, 0]])),
    );
    expect(await actual(over, '7d', t0 - 3 * day, t0 + 11 * day)).toEqual(
      Object.fromEntries(Object.entries(all).map(([g, v]) => [g, [v, 0, 0]])),
    );
    expect(await actual(over, '30d', t0 - 40 * day, t0 + 20 * day)).toEqual(
      Object.fromEntries(Object.entries(all).map(([g, v]) => [g, [0, v, 0]])),
    );

    // The oracle is not empty: every metric has a value in each group it names.
    expect(Object.keys(expected(metrics[0]!, events, day, 0, 1)).sort()).toEqual(['eu', 'us']);
    expect(Object.keys(expected(metrics[1]!, events, day, 0, 1)).sort()).toEqual(['a', 'b']);
    expect(Object.keys(expected(metrics[2]!, events, day, 0, 1)).sort()).toEqual(['field', 'monitor']);
    expect(Object.keys(expected(metrics[3]!, events, day, 0, 1)).sort()).toEqual(['a', 'b', 'c']);
  });
});
