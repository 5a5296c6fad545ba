import type { Container } from '@azure/cosmos';
import type { WindowSize } from './definition.js';
import { Accumulator } from './values.js';
import { type DayDoc, dayId, type HourDoc, keys, type MetricVersion, windowMs } from './windows.js';

export const INTERVALS = ['1m', '1h', '12h', '1d', '7d', '30d'] as const;
export type Interval = (typeof INTERVALS)[number];

const intervalMs: Record<Interval, number> = {
  '1m': 60_000,
  '1h': windowMs.hour,
  '12h': 12 * windowMs.hour,
  '1d': windowMs.day,
  '7d': 7 * windowMs.day,
  '30d': 30 * windowMs.day,
};
/** The stored window each interval is read from. */
const storedWindow: Record<Interval, WindowSize> = {
  '1m': '1m',
  '1h': '1h',
  '12h': '1h',
  '1d': '1d',
  '7d': '1d',
  '30d': '1d',
};

export interface Series {
  group: Record<string, string | null>;
  points: { start: string; value: number }[];
}

export interface MetricSeries {
  metric: string;
  version: number;
  interval: Interval;
  series: Series[];
}

export class QueryError extends Error {
  constructor(
    readonly code: 'INTERVAL_NOT_KEPT' | 'RANGE_TOO_LONG',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A metric's values per interval from `from` (aligned down to the interval) to `to`
 * (exclusive), per group, with every window of the range present (zero where nothing happened).
 * `filter` keeps the groups whose groupBy fields have these values.
 */
export async function readSeries(
  container: Container,
  m: MetricVersion,
  interval: Interval,
  fromMs: number,
  toMs: number,
  filter: Record<string, string> = {},
  maxPoints = 2000,
): Promise<MetricSeries> {
  const d = m.definition;
  const window = storedWindow[interval];
  if (!d.windows.includes(window)) {
    throw new QueryError(
      'INTERVAL_NOT_KEPT',
      `Metric '${d.name}' keeps ${d.windows.join(', ')} windows; ${interval} needs ${window}`,
    );
  }
  const step = intervalMs[interval];
  const start = Math.floor(fromMs / Math.min(step, windowMs.day)) * Math.min(step, windowMs.day);
  const count = Math.ceil((toMs - start) / step);
  if (count > maxPoints) {
    throw new QueryError(
      'RANGE_TOO_LONG',
      `${count} ${interval} points asked for; at most ${maxPoints} per call`,
    );
  }
  // Stored windows (start → group → partial), then summed into the interval's buckets.
  const windows =
    window === '1d'
      ? await dayTotals(container, m, start, toMs)
      : await hourly(container, m, window, start, toMs);
  const buckets = new Map<number, Accumulator>();
  for (const [t, groups] of windows) {
    if (t < start || t >= toMs) continue;
    const b = start + Math.floor((t - start) / step) * step;
    const acc = buckets.get(b) ?? new Accumulator(d.aggregate);
    buckets.set(b, acc);
    for (const [g, v] of Object.entries(groups)) acc.add(g, v);
  }
  const byGroup = new Map<string, Map<number, number>>();
  for (const [b, acc] of buckets) {
    for (const [g, v] of Object.entries(acc.values(new Set(acc.topGroups(Number.POSITIVE_INFINITY))))) {
      const values: (string | null)[] = JSON.parse(g);
      if (!d.groupBy.every((field, i) => filter[field] === undefined || filter[field] === values[i]))
        continue;
      const points = byGroup.get(g) ?? new Map<number, number>();
      byGroup.set(g, points);
      points.set(b, v);
    }
  }
  const series = [...byGroup]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([g, points]) => {
      const values: (string | null)[] = JSON.parse(g);
      return {
        group: Object.fromEntries(d.groupBy.map((field, i) => [field, values[i] ?? null])),
        points: Array.from({ length: count }, (_, i) => {
          const t = start + i * step;
          return { start: new Date(t).toISOString(), value: points.get(t) ?? 0 };
        }),
      };
    });
  return { metric: d.name, version: m.version, interval, series };
}

type Windows = Map<number, Record<string, number | string>>;

/** 1m windows from hour documents' minutes, or 1h windows from their totals. */
async function hourly(
  container: Container,
  m: MetricVersion,
  window: WindowSize,
  from: number,
  to: number,
): Promise<Windows> {
  const { pk } = keys.hour(m, 0);
  const { resources } = await container.items
    .query<HourDoc>(
      {
        query: "SELECT * FROM c WHERE c.pk = @pk AND c.kind = 'hour' AND c.hour >= @from AND c.hour < @to",
        parameters: [
          { name: '@pk', value: pk },
          { name: '@from', value: Math.floor(from / windowMs.hour) * windowMs.hour },
          { name: '@to', value: to },
        ],
      },
      { partitionKey: pk },
    )
    .fetchAll();
  const out: Windows = new Map();
  for (const h of resources) {
    if (window === '1h') out.set(h.hour, h.total);
    else
      for (const [mm, groups] of Object.entries(h.minutes ?? {}))
        out.set(h.hour + Number(mm) * 60_000, groups);
  }
  return out;
}

async function dayTotals(container: Container, m: MetricVersion, from: number, to: number): Promise<Windows> {
  const { pk } = keys.day(m, '');
  const { resources } = await container.items
    .query<DayDoc>(
      {
        query: "SELECT * FROM c WHERE c.pk = @pk AND c.kind = 'day' AND c.day >= @from AND c.day < @to",
        parameters: [
          { name: '@pk', value: pk },
          { name: '@from', value: dayId(from) },
          { name: '@to', value: dayId(to + windowMs.day - 1) },
        ],
      },
      { partitionKey: pk },
    )
    .fetchAll();
  const out: Windows = new Map();
  for (const d of resources) {
    out.set(
      Date.UTC(Number(d.day.slice(0, 4)), Number(d.day.slice(4, 6)) - 1, Number(d.day.slice(6, 8))),
      d.total,
    );
  }
  return out;
}
