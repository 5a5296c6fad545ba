import type { Container } from '@azure/cosmos';
import { isStatus } from '../clients/errors.js';
import { runPool } from '../pool/index.js';
import type { MetricDefinition } from './definition.js';
import { Accumulator, type Partial } from './values.js';

/**
 * Metric windows in Cosmos DB (container `metrics`, partition key `/pk`), exactly once:
 *
 * - a **contribution** per (task, metric version, event hour): the task's partial value per
 *   minute and group. Its id names the task's state and shard, so a rerun (or a replay of the
 *   same version) replaces it instead of adding to it. Partition: the metric's contributions of
 *   one day.
 * - an **hour** document per (metric version, hour): the sum of the hour's contributions, per
 *   minute (when the metric keeps 1m windows) and in total. Partition: the metric's hours.
 * - a **day** document per (metric version, day): the sum of its hours, per hour (when it keeps
 *   1h windows) and in total. Partition: the metric's days.
 *
 * Hours and days are recomputed from what they sum after each task that touched them, with an
 * ETag-conditional write that retries when another task wrote first: the last successful write
 * always read everything written before it, so no contribution is ever lost or counted twice.
 * A dashboard reads at most 25 hour documents for 24 hours at 1m, or 30 day documents for 30
 * days at 1d, each from a single partition.
 */

export const metricsContainer = 'metrics';

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;

export interface MetricVersion {
  tenant: string;
  definition: MetricDefinition;
  version: number;
}

type GroupMap = Record<string, Partial>;

export interface ContributionDoc {
  id: string;
  pk: string;
  kind: 'contribution';
  tenant: string;
  metric: string;
  version: number;
  hour: number;
  stateId: string;
  shard: number;
  shards: number;
  writtenAt: string;
  /** minute of the hour (`00`…`59`) → group key → partial value. */
  minutes: Record<string, GroupMap>;
}

export interface HourDoc {
  id: string;
  pk: string;
  kind: 'hour';
  tenant: string;
  metric: string;
  version: number;
  hour: number;
  day: string;
  /** minute → group → value (numbers; distinct counts estimated). Only for metrics with 1m windows. */
  minutes?: Record<string, Record<string, number>>;
  /** group → partial value of the whole hour (distinct: registers). */
  total: GroupMap;
  contributions: number;
  updatedAt: string;
}

export interface DayDoc {
  id: string;
  pk: string;
  kind: 'day';
  tenant: string;
  metric: string;
  version: number;
  day: string;
  /** hour (`00`…`23`) → group → value. Only for metrics with 1h windows. */
  hours?: Record<string, Record<string, number>>;
  total: GroupMap;
  updatedAt: string;
}

const pad = (n: number) => String(n).padStart(2, '0');
/** `yyyyMMdd` of an epoch-ms time. */
export const dayId = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
const hourId = (ms: number) => `${dayId(ms)}${pad(new Date(ms).getUTCHours())}`;
const base = (m: MetricVersion) => `${m.tenant}|${m.definition.name}|${m.version}`;

export const keys = {
  contribution: (m: MetricVersion, hour: number, stateId: string, shard: number, shards: number) => ({
    id: `c|${m.definition.name}|${m.version}|${hourId(hour)}|${stateId}-${shard}of${shards}`,
    pk: `${base(m)}|c|${dayId(hour)}`,
  }),
  hour: (m: MetricVersion, hour: number) => ({
    id: `h|${m.definition.name}|${m.version}|${hourId(hour)}`,
    pk: `${base(m)}|1h`,
  }),
  day: (m: MetricVersion, day: string) => ({
    id: `d|${m.definition.name}|${m.version}|${day}`,
    pk: `${base(m)}|1d`,
  }),
};

/**
 * Writes a task's contributions (hour → minute → group → partial) and returns the hours and
 * days they touch, for folding.
 */
export async function writeContributions(
  container: Container,
  m: MetricVersion,
  task: { stateId: string; shard: number; shards: number },
  hours: Map<number, Map<string, Accumulator>>,
  maxGroups: number,
  now: () => number,
): Promise<void> {
  await runPool([...hours], 16, async ([hour, minutes]) => {
    // Cap groups over the whole hour, so every minute keeps the same groups.
    const totals = new Accumulator(m.definition.aggregate);
    for (const acc of minutes.values())
      for (const [g, v] of Object.entries(acc.partials(Number.POSITIVE_INFINITY))) totals.add(g, v);
    const keep = totals.topGroups(maxGroups);
    const doc: ContributionDoc = {
      ...keys.contribution(m, hour, task.stateId, task.shard, task.shards),
      kind: 'contribution',
      tenant: m.tenant,
      metric: m.definition.name,
      version: m.version,
      hour,
      stateId: task.stateId,
      shard: task.shard,
      shards: task.shards,
      writtenAt: new Date(now()).toISOString(),
      minutes: Object.fromEntries([...minutes].map(([mm, acc]) => [mm, acc.partials(maxGroups, keep)])),
    };
    await container.items.upsert(doc);
  });
}

/** Recomputes the hour documents, then the day documents, that a task's contributions touched. */
export async function foldWindows(
  container: Container,
  m: MetricVersion,
  hours: readonly number[],
  maxGroups: number,
  now: () => number,
): Promise<{ hours: HourDoc[]; days: DayDoc[] }> {
  const hourDocs: HourDoc[] = [];
  await runPool(hours, 8, async (hour) => {
    hourDocs.push(await foldHour(container, m, hour, maxGroups, now));
  });
  const days = [...new Set(hours.map((h) => dayId(h)))];
  const dayDocs: DayDoc[] = [];
  await runPool(days, 8, async (day) => {
    dayDocs.push(await foldDay(container, m, day, maxGroups, now));
  });
  return { hours: hourDocs, days: dayDocs };
}

async function foldHour(
  container: Container,
  m: MetricVersion,
  hour: number,
  maxGroups: number,
  now: () => number,
): Promise<HourDoc> {
  const { id, pk } = keys.hour(m, hour);
  return writeFold<HourDoc>(container, id, pk, async () => {
    const { resources } = await container.items
      .query<ContributionDoc>(
        {
          query: "SELECT * FROM c WHERE c.pk = @pk AND c.kind = 'contribution' AND c.hour = @hour",
          parameters: [
            { name: '@pk', value: keys.contribution(m, hour, '', 0, 1).pk },
            { name: '@hour', value: hour },
          ],
        },
        { partitionKey: keys.contribution(m, hour, '', 0, 1).pk },
      )
      .fetchAll();
    const current = latestCuts(resources);
    const agg = m.definition.aggregate;
    const total = new Accumulator(agg);
    const minutes = new Map<string, Accumulator>();
    for (const c of current) {
      for (const [mm, groups] of Object.entries(c.minutes)) {
        const acc = minutes.get(mm) ?? new Accumulator(agg);
        minutes.set(mm, acc);
        for (const [g, v] of Object.entries(groups)) {
          acc.add(g, v);
          total.add(g, v);
        }
      }
    }
    const keep = total.topGroups(maxGroups);
    return {
      id,
      pk,
      kind: 'hour',
      tenant: m.tenant,
      metric: m.definition.name,
      version: m.version,
      hour,
      day: dayId(hour),
      ...(m.definition.windows.includes('1m')
        ? { minutes: Object.fromEntries([...minutes].sort().map(([mm, acc]) => [mm, acc.values(keep)])) }
        : {}),
      total: total.partials(maxGroups, keep),
      contributions: current.length,
      updatedAt: new Date(now()).toISOString(),
    };
  });
}

async function foldDay(
  container: Container,
  m: MetricVersion,
  day: string,
  maxGroups: number,
  now: () => number,
): Promise<DayDoc> {
  const { id, pk } = keys.day(m, day);
  return writeFold<DayDoc>(container, id, pk, async () => {
    const hourPk = keys.hour(m, 0).pk;
    const { resources } = await container.items
      .query<HourDoc>(
        {
          query: "SELECT * FROM c WHERE c.pk = @pk AND c.kind = 'hour' AND c.day = @day",
          parameters: [
            { name: '@pk', value: hourPk },
            { name: '@day', value: day },
          ],
        },
        { partitionKey: hourPk },
      )
      .fetchAll();
    const agg = m.definition.aggregate;
    const total = new Accumulator(agg);
    const hours = new Map<string, Accumulator>();
    for (const h of resources) {
      const hh = pad(new Date(h.hour).getUTCHours());
      const acc = new Accumulator(agg);
      hours.set(hh, acc);
      for (const [g, v] of Object.entries(h.total)) {
        acc.add(g, v);
        total.add(g, v);
      }
    }
    const keep = total.topGroups(maxGroups);
    return {
      id,
      pk,
      kind: 'day',
      tenant: m.tenant,
      metric: m.definition.name,
      version: m.version,
      day,
      ...(m.definition.windows.includes('1h')
        ? { hours: Object.fromEntries([...hours].sort().map(([hh, acc]) => [hh, acc.values(keep)])) }
        : {}),
      total: total.partials(maxGroups, keep),
      updatedAt: new Date(now()).toISOString(),
    };
  });
}

/**
 * Of each state's contributions, those of its latest cut into shards: a state re-run with
 * another MAIN_TASK_MAX_BYTES writes other shard ids, and the older cut's must not add up too.
 */
function latestCuts(contributions: ContributionDoc[]): ContributionDoc[] {
  const byState = new Map<string, ContributionDoc[]>();
  for (const c of contributions) {
    const list = byState.get(c.stateId) ?? [];
    list.push(c);
    byState.set(c.stateId, list);
  }
  const out: ContributionDoc[] = [];
  for (const list of byState.values()) {
    const latest = list.reduce((a, b) => (b.writtenAt > a.writtenAt ? b : a));
    out.push(...list.filter((c) => c.shards === latest.shards));
  }
  return out;
}

/** Computes and writes a fold, again while another writer changed it in between (ETag). */
async function writeFold<T extends { id: string; pk: string }>(
  container: Container,
  id: string,
  pk: string,
  compute: () => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    let etag: string | undefined;
    try {
      const { resource, etag: e } = await container.item(id, pk).read<T>();
      etag = resource ? e : undefined;
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
    // Read what it sums only after the ETag: a write this one overwrites saw everything it did.
    const doc = await compute();
    try {
      if (etag)
        await container.item(id, pk).replace(doc, { accessCondition: { type: 'IfMatch', condition: etag } });
      else await container.items.create(doc);
      return doc;
    } catch (err) {
      if (!isStatus(err, 409, 412) || attempt >= 50) throw err;
    }
  }
}

export const windowMs = { hour: hourMs, day: dayMs };
