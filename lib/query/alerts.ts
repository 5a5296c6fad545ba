import type { Container } from '@azure/cosmos';
import type { z } from 'zod';
import type { AlertDoc } from '../alerts/evaluate.js';
import { parseQuery, timeRange } from './params.js';
import { type AlertSchema, AlertsQuerySchema, MAX_ALERTS_RANGE_MS } from './schemas.js';

export interface AlertsDeps {
  alerts: Container;
  now: () => number;
}

type Alert = z.infer<typeof AlertSchema>;

/** The month partitions (`<tenant>|<yyyyMM>`) that hold windows starting in [from, to). */
function monthKeys(tenant: string, from: number, to: number): string[] {
  const out: string[] = [];
  const d = new Date(from);
  let y = d.getUTCFullYear();
  let m = d.getUTCMonth();
  while (Date.UTC(y, m, 1) < to) {
    out.push(`${tenant}|${y}${String(m + 1).padStart(2, '0')}`);
    m++;
    if (m === 12) {
      m = 0;
      y++;
    }
  }
  return out;
}

/**
 * GET /v1/alerts: the tenant's alerts whose window starts in [from, to), newest window first,
 * optionally of one rule; one query per month partition the range touches.
 */
export async function listAlerts(
  deps: AlertsDeps,
  tenant: string,
  query: URLSearchParams,
): Promise<{ alerts: Alert[]; truncated: boolean }> {
  const q = parseQuery(AlertsQuerySchema, query, {
    from: 'RANGE_INVALID',
    to: 'RANGE_INVALID',
    rule: 'RULE_INVALID',
    limit: 'LIMIT_INVALID',
  });
  const { from, to } = timeRange(q, deps.now(), 86_400_000, MAX_ALERTS_RANGE_MS);
  const docs: AlertDoc[] = [];
  for (const pk of monthKeys(tenant, from, to)) {
    const parameters = [
      { name: '@pk', value: pk },
      { name: '@from', value: new Date(from).toISOString() },
      { name: '@to', value: new Date(to).toISOString() },
    ];
    let text = 'SELECT * FROM c WHERE c.pk = @pk AND c.windowStart >= @from AND c.windowStart < @to';
    if (q.rule) {
      text += ' AND c.rule = @rule';
      parameters.push({ name: '@rule', value: q.rule });
    }
    const { resources } = await deps.alerts.items
      .query<AlertDoc>({ query: text, parameters }, { partitionKey: pk })
      .fetchAll();
    docs.push(...resources);
  }
  docs.sort(
    (a, b) =>
      cmp(b.windowStart, a.windowStart) ||
      cmp(b.firedAt, a.firedAt) ||
      cmp(a.rule, b.rule) ||
      cmp(a.id, b.id),
  );
  return {
    alerts: docs.slice(0, q.limit).map((d) => ({
      id: d.id,
      rule: d.rule,
      metric: d.metric,
      version: d.version,
      window: d.window,
      windowStart: d.windowStart,
      group: d.group,
      value: d.value,
      op: d.op,
      threshold: d.threshold,
      firedAt: d.firedAt,
      delivery: d.delivery,
    })),
    truncated: docs.length > q.limit,
  };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
