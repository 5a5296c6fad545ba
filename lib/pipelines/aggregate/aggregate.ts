import type { Container } from '@azure/cosmos';
import type { DuckDBConnection } from '@duckdb/node-api';
import { Registers } from '../../metrics/hll.js';
import { minutePartialsSql } from '../../metrics/sql.js';
import { Accumulator } from '../../metrics/values.js';
import {
  type DayDoc,
  foldWindows,
  type HourDoc,
  type MetricVersion,
  windowMs,
  writeContributions,
} from '../../metrics/windows.js';
import { runPool } from '../../pool/index.js';
import { type LoadDeps, withTaskEvents } from '../events/load.js';
import type { TaskMessage } from '../task.js';
import type { TaskStats } from '../worker.js';

export interface AggregateDeps extends LoadDeps {
  metrics: Container;
  /** The metric versions a task computes (built-ins and the tenant's, active and being rebuilt). */
  definitions: (tenant: string, run: string) => Promise<MetricVersion[]>;
  maxGroups: number;
  /** Called with each metric's folded windows, for alert rules. */
  afterFold?: (
    m: MetricVersion,
    folded: { hours: HourDoc[]; days: DayDoc[] },
    task: TaskMessage,
  ) => Promise<number>;
  now: () => number;
}

/** hour (epoch ms) → minute (`00`…`59`) → group key → partial value. */
type Partials = Map<number, Map<string, Accumulator>>;

/**
 * Aggregates one task: the same deduplicated events curate writes, per metric version, into
 * per-minute partial values, written to Cosmos DB as the task's own contributions (replaced on a
 * rerun, never added twice), then the hour and day windows they touch are recomputed.
 */
export async function aggregateTask(deps: AggregateDeps, task: TaskMessage): Promise<TaskStats> {
  const metrics = await deps.definitions(task.tenant, task.run);
  const started = performance.now();
  const { result: computed, events } = await withTaskEvents(deps, task, async (c) => {
    const out: { m: MetricVersion; partials: Partials }[] = [];
    for (const m of metrics) out.push({ m, partials: await partialsOf(c, m) });
    return out;
  });
  const computeMs = Math.round(performance.now() - started);
  const writeStart = performance.now();
  let contributions = 0;
  let hours = 0;
  let days = 0;
  let alerts = 0;
  // Metrics write to partitions of their own: all at once.
  await runPool(computed, computed.length, async ({ m, partials }) => {
    if (partials.size === 0) return;
    await writeContributions(deps.metrics, m, task, partials, deps.maxGroups, deps.now);
    const folded = await foldWindows(deps.metrics, m, [...partials.keys()], deps.maxGroups, deps.now);
    contributions += partials.size;
    hours += folded.hours.length;
    days += folded.days.length;
    if (deps.afterFold) alerts += await deps.afterFold(m, folded, task);
  });
  const { stats } = events;
  return {
    blocks: stats.blocks,
    eventsRead: stats.eventsRead,
    events: stats.events,
    duplicates: stats.duplicates,
    badLines: stats.badLines,
    unreadableBlocks: stats.unreadableBlocks,
    metrics: metrics.length,
    contributions,
    hours,
    days,
    alerts,
    readMs: stats.readMs + stats.earlierMs + stats.writeMs,
    loadMs: stats.loadMs,
    computeMs,
    cosmosMs: Math.round(performance.now() - writeStart),
  };
}

async function partialsOf(c: DuckDBConnection, m: MetricVersion): Promise<Partials> {
  const d = m.definition;
  const reader = await c.runAndReadAll(minutePartialsSql(d));
  const rows = reader.getRowObjectsJS();
  const out: Partials = new Map();
  const distinct = d.aggregate.fn === 'distinct';
  const sketches = new Map<Accumulator, Map<string, Registers>>();
  for (const row of rows) {
    const minute = Number(row.minute);
    const hour = Math.floor(minute / windowMs.hour) * windowMs.hour;
    const mm = String((minute - hour) / 60_000).padStart(2, '0');
    const group = JSON.stringify(d.groupBy.map((_, i) => (row[`g${i}`] ?? null) as string | null));
    const minutes = out.get(hour) ?? new Map<string, Accumulator>();
    out.set(hour, minutes);
    const acc = minutes.get(mm) ?? new Accumulator(d.aggregate);
    minutes.set(mm, acc);
    if (!distinct) {
      acc.add(group, Number(row.v));
      continue;
    }
    const byGroup = sketches.get(acc) ?? new Map<string, Registers>();
    sketches.set(acc, byGroup);
    let r = byGroup.get(group);
    if (!r) {
      r = new Registers();
      byGroup.set(group, r);
    }
    r.set(Number(row.reg), Number(row.rank));
  }
  for (const [acc, byGroup] of sketches) for (const [g, r] of byGroup) acc.addRegisters(g, r);
  return out;
}
