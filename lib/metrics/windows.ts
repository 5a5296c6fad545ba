import type { Container, JSONObject, OperationInput } from '@azure/cosmos';
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
 * Hours and days are recomputed from what they sum after each task that touched them (one query
 * and one batch per partition), with ETag-conditional writes that retry when another task wrote first: the last successful write
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

/** Cosmos DB takes at most 100 operations and 2 MB in one batch; stay under both. */
const batchOps = 100;
const batchBytes = 1_500_000;

/** Splits documents into batches a single partition accepts. */
function chunks<T>(docs: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const d of docs) {
    const size = JSON.stringify(d).length;
    if (current.length && (current.length >= batchOps || bytes + size > batchBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(d);
    bytes += size;
  }
  if (current.length) out.push(current);
  return out;
}

/** Groups by a key, keeping first-seen order. */
function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = out.get(k) ?? [];
    list.push(t);
    out.set(k, list);
  }
  return out;
}

/** Runs one batch; false when an operation lost a race (409, 412), so the caller recomputes. */
async function runBatch(container: Container, pk: string, operations: OperationInput[]): Promise<boolean> {
  const { result } = await container.items.batch(operations, pk);
  const statuses = (result ?? []).map((r) => r.statusCode);
  if (statuses.every((c) => c < 400)) return true;
  if (statuses.some((c) => c === 409 || c === 412)) return false;
  const bad = statuses.find((c) => c >= 400 && c !== 424);
  throw new Error(
    `Cosmos DB refused a batch of ${operations.length} writes in '${pk}' (status ${bad ?? statuses.join(',')})`,
  );
}

/**
 * Writes a task's contributions (hour → minute → group → partial): one batch of upserts per day
 * they fall on (a day is one partition).
 */
export async function writeContributions(
  container: Container,
  m: MetricVersion,
  task: { stateId: string; shard: number; shards: number },
  hours: Map<number, Map<string, Accumulator>>,
  maxGroups: number,
  now: () => number,
): Promise<void> {
  const docs: ContributionDoc[] = [];
  for (const [hour, minutes] of hours) {
    // Cap groups over the whole hour, so every minute keeps the same groups.
    const totals = new Accumulator(m.definition.aggregate);
    for (const acc of minutes.values())
      for (const [g, v] of Object.entries(acc.partials(Number.POSITIVE_INFINITY))) totals.add(g, v);
    docs.push(
      fitted(maxGroups, (max) => {
        const keep = totals.topGroups(max);
        return {
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
          minutes: Object.fromEntries([...minutes].map(([mm, acc]) => [mm, acc.partials(max, keep)])),
        };
      }),
    );
  }
  const batches = [...groupBy(docs, (d) => d.pk)].flatMap(([pk, list]) =>
    chunks(list).map((c) => [pk, c] as const),
  );
  await runPool(batches, 8, async ([pk, list]) => {
    const ok = await runBatch(
      container,
      pk,
      list.map((d) => ({ operationType: 'Upsert', resourceBody: d as unknown as JSONObject })),
    );
    if (!ok) throw new Error(`Cosmos DB refused upserts of contributions in '${pk}'`);
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
  const hourDocs = await writeFolds<number, HourDoc>(
    container,
    keys.hour(m, 0).pk,
    [...hours].sort((a, b) => a - b),
    (hour) => keys.hour(m, hour).id,
    async (list) => {
      // The contributions of these hours: one query per day (a day is one partition).
      const byHour = new Map<number, ContributionDoc[]>();
      for (const [pk, dayHours] of groupBy(list, (h) => keys.contribution(m, h, '', 0, 1).pk)) {
        const found = await queryIn<ContributionDoc>(
          container,
          pk,
          "c.kind = 'contribution'",
          'c.hour',
          dayHours,
        );
        for (const c of found) byHour.set(c.hour, [...(byHour.get(c.hour) ?? []), c]);
      }
      return list.map((hour) => hourFold(m, hour, byHour.get(hour) ?? [], maxGroups, now));
    },
  );
  const days = [...new Set(hours.map((h) => dayId(h)))].sort();
  const dayDocs = await writeFolds<string, DayDoc>(
    container,
    keys.day(m, '').pk,
    days,
    (day) => keys.day(m, day).id,
    async (list) => {
      const found = await queryIn<HourDoc>(container, keys.hour(m, 0).pk, "c.kind = 'hour'", 'c.day', list);
      const byDay = groupBy(found, (h) => h.day);
      return list.map((day) => dayFold(m, day, byDay.get(day) ?? [], maxGroups, now));
    },
  );
  return { hours: hourDocs, days: dayDocs };
}

/** Documents of one partition whose `field` is one of `values`. */
async function queryIn<T>(
  container: Container,
  pk: string,
  where: string,
  field: string,
  values: readonly (string | number)[],
): Promise<T[]> {
  const names = values.map((_, i) => `@v${i}`);
  const { resources } = await container.items
    .query<T>(
      {
        query: `SELECT * FROM c WHERE c.pk = @pk AND ${where} AND ${field} IN (${names.join(', ')})`,
        parameters: [{ name: '@pk', value: pk }, ...values.map((value, i) => ({ name: names[i]!, value }))],
      },
      { partitionKey: pk },
    )
    .fetchAll();
  return resources;
}

/**
 * Computes and writes fold documents of one partition, in batches, again while another writer
 * changed one in between (ETag): the ETags are read before what the folds sum, so the write that
 * overwrites another's always saw everything that one did.
 */
async function writeFolds<K, T extends { id: string; pk: string }>(
  container: Container,
  pk: string,
  keysOf: readonly K[],
  idOf: (k: K) => string,
  compute: (keys: K[]) => Promise<T[]>,
): Promise<T[]> {
  const out: T[] = [];
  for (const part of chunks([...keysOf])) {
    for (let attempt = 0; ; attempt++) {
      const existing = await queryIn<{ id: string; _etag: string }>(
        container,
        pk,
        'true',
        'c.id',
        part.map(idOf),
      );
      const etags = new Map(existing.map((e) => [e.id, e._etag]));
      const docs = await compute(part);
      const operations: OperationInput[] = docs.map((d) => {
        const etag = etags.get(d.id);
        const body = d as unknown as JSONObject;
        return etag
          ? { operationType: 'Replace', id: d.id, resourceBody: body, ifMatch: etag }
          : { operationType: 'Create', resourceBody: body };
      });
      let written = true;
      for (const batch of chunks(operations)) if (!(await runBatch(container, pk, batch))) written = false;
      if (written) {
        out.push(...docs);
        break;
      }
      if (attempt >= 50)
        throw new Error(`Could not fold ${part.length} windows in '${pk}': too many concurrent writers`);
    }
  }
  return out;
}

function hourFold(
  m: MetricVersion,
  hour: number,
  contributions: ContributionDoc[],
  maxGroups: number,
  now: () => number,
): HourDoc {
  const current = latestCuts(contributions);
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
  return fitted(maxGroups, (max) => {
    const keep = total.topGroups(max);
    return {
      ...keys.hour(m, hour),
      kind: 'hour',
      tenant: m.tenant,
      metric: m.definition.name,
      version: m.version,
      hour,
      day: dayId(hour),
      ...(m.definition.windows.includes('1m')
        ? { minutes: Object.fromEntries([...minutes].sort().map(([mm, acc]) => [mm, acc.values(keep)])) }
        : {}),
      total: total.partials(max, keep),
      contributions: current.length,
      updatedAt: new Date(now()).toISOString(),
    };
  });
}

function dayFold(
  m: MetricVersion,
  day: string,
  hourDocs: HourDoc[],
  maxGroups: number,
  now: () => number,
): DayDoc {
  const agg = m.definition.aggregate;
  const total = new Accumulator(agg);
  const hours = new Map<string, Accumulator>();
  for (const h of hourDocs) {
    const hh = pad(new Date(h.hour).getUTCHours());
    const acc = new Accumulator(agg);
    hours.set(hh, acc);
    for (const [g, v] of Object.entries(h.total)) {
      acc.add(g, v);
      total.add(g, v);
    }
  }
  return fitted(maxGroups, (max) => {
    const keep = total.topGroups(max);
    return {
      ...keys.day(m, day),
      kind: 'day',
      tenant: m.tenant,
      metric: m.definition.name,
      version: m.version,
      day,
      ...(m.definition.windows.includes('1h')
        ? { hours: Object.fromEntries([...hours].sort().map(([hh, acc]) => [hh, acc.values(keep)])) }
        : {}),
      total: total.partials(max, keep),
      updatedAt: new Date(now()).toISOString(),
    };
  });
}

/** Cosmos DB refuses a document over 2 MB; a window keeps fewer groups rather than fail its task. */
export const MAX_DOCUMENT_BYTES = 1_900_000;

/**
 * The document `build` makes with at most `maxGroups` groups, or with fewer when that one would be
 * over MAX_DOCUMENT_BYTES (many groups of dense distinct registers, or of minutes): the groups
 * left out are summed under `(other)`, as beyond `maxGroups`. Deterministic, like the cap itself.
 */
function fitted<T>(maxGroups: number, build: (maxGroups: number) => T): T {
  let groups = maxGroups;
  for (;;) {
    const doc = build(groups);
    const bytes = Buffer.byteLength(JSON.stringify(doc));
    if (bytes <= MAX_DOCUMENT_BYTES || groups <= 1) return doc;
    groups = Math.max(1, Math.min(groups - 1, Math.floor(((groups * MAX_DOCUMENT_BYTES) / bytes) * 0.9)));
  }
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

export const windowMs = { hour: hourMs, day: dayMs };
