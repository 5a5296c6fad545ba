import { sqlString } from '../duckdb/index.js';
import { type Condition, fieldSql, type MetricDefinition } from './definition.js';
import { hllRegisterSql } from './hll.js';

const num = (sql: string) => `TRY_CAST(${sql} AS DOUBLE)`;

function literal(v: string | number | boolean): string {
  return typeof v === 'number' ? String(v) : sqlString(String(v));
}

function conditionSql(c: Condition): string {
  const f = fieldSql(c.field);
  if (c.op === 'exists') return `${f} IS NOT NULL`;
  if (c.op === 'in') {
    const values = c.value as (string | number | boolean)[];
    return values.every((v) => typeof v === 'number')
      ? `${num(f)} IN (${values.join(', ')})`
      : `${f} IN (${values.map((v) => sqlString(String(v))).join(', ')})`;
  }
  const ordering = c.op !== '=' && c.op !== '!=';
  if (c.valueField) {
    const g = fieldSql(c.valueField);
    // Fields compare as numbers when both are numbers, else as text.
    return ordering
      ? `${num(f)} ${c.op} ${num(g)}`
      : `coalesce(${num(f)} ${c.op} ${num(g)}, ${f} ${c.op} ${g})`;
  }
  const v = c.value as string | number | boolean;
  return typeof v === 'number' ? `${num(f)} ${c.op} ${v}` : `${f} ${c.op} ${literal(v)}`;
}

/** The rows a metric counts, as a SQL condition over the curated columns. */
export function metricFilterSql(d: MetricDefinition): string {
  const exact = d.events.filter((e) => e !== '*' && !e.endsWith('.*'));
  const prefixes = d.events.filter((e) => e.endsWith('.*')).map((e) => e.slice(0, -1));
  const names = d.events.includes('*')
    ? 'TRUE'
    : [
        ...(exact.length ? [`name IN (${exact.map(sqlString).join(', ')})`] : []),
        ...prefixes.map((p) => `starts_with(name, ${sqlString(p)})`),
      ].join(' OR ');
  const parts = [`(${names})`, ...d.where.map((c) => `(${conditionSql(c)})`)];
  const agg = d.aggregate;
  if (agg.fn !== 'count') {
    const f = fieldSql(agg.field);
    parts.push(agg.fn === 'distinct' ? `${f} IS NOT NULL` : `${num(f)} IS NOT NULL`);
  }
  return parts.join(' AND ');
}

/**
 * The metric's partial values per event-time minute and group over `source` (a table or query
 * with the curated columns): `minute` (epoch ms), `g0`… (group values as text), and `v` (count,
 * sum, min or max), or for `distinct` one row per HLL register (`reg`, `rank`).
 */
export function minutePartialsSql(d: MetricDefinition, source = 'events'): string {
  const groups = d.groupBy.map((g, i) => `${fieldSql(g)} AS g${i}`);
  const select = ["epoch_ms(date_trunc('minute', time)) AS minute", ...groups];
  const agg = d.aggregate;
  if (agg.fn === 'distinct') {
    return `SELECT minute${groups.map((_, i) => `, g${i}`).join('')}, reg, max(rank) AS rank FROM (
  SELECT ${select.join(', ')}, ${hllRegisterSql(fieldSql(agg.field))}
  FROM ${source} WHERE ${metricFilterSql(d)}
) GROUP BY ALL`;
  }
  const value = agg.fn === 'count' ? 'count(*)::DOUBLE' : `${agg.fn}(${num(fieldSql(agg.field))})`;
  return `SELECT ${select.join(', ')}, ${value} AS v FROM ${source} WHERE ${metricFilterSql(d)} GROUP BY ALL`;
}
