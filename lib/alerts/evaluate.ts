import { createHash } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import type { QueueClient } from '@azure/storage-queue';
import { isStatus } from '../clients/errors.js';
import { numberOf } from '../metrics/values.js';
import type { DayDoc, HourDoc, MetricVersion } from '../metrics/windows.js';
import { stateEndMs } from '../temporal/index.js';
import { type AlertRule, crosses } from './rule.js';

export const alertsContainer = 'alerts';
export const alertsQueue = 'alerts';

export interface AlertDoc {
  id: string;
  pk: string;
  kind: 'alert';
  tenant: string;
  rule: string;
  metric: string;
  version: number;
  window: AlertRule['window'];
  windowStart: string;
  group: Record<string, string | null>;
  value: number;
  op: AlertRule['op'];
  threshold: number;
  firedAt: string;
  stateId: string;
  webhook: string | null;
  /** Whether the delivery message was enqueued (a rerun enqueues it when a crash came in between). */
  enqueued: boolean;
  delivery: {
    status: 'none' | 'pending' | 'delivered' | 'failed';
    attempts: number;
    lastError?: string;
    at?: string;
  };
}

/** What `notify` receives on the `alerts` queue. */
export interface NotifyMessage {
  tenant: string;
  pk: string;
  id: string;
  attempt: number;
}

export interface EvaluateDeps {
  alerts: Container;
  queue: QueueClient;
  /** The tenant's enabled rules (cached by the caller). */
  rules: (tenant: string) => Promise<AlertRule[]>;
  /** Whether this version of the metric is the one queries read (rules follow it). */
  isActive: (m: MetricVersion) => Promise<boolean>;
  now: () => number;
}

const compact = (ms: number) => new Date(ms).toISOString().replace(/\D/g, '').slice(0, 12);

export function alertKeys(tenant: string, rule: string, windowStartMs: number, groupKey: string) {
  const g = createHash('sha256').update(groupKey).digest('hex').slice(0, 16);
  return {
    id: `${rule}|${compact(windowStartMs)}|${g}`,
    pk: `${tenant}|${compact(windowStartMs).slice(0, 6)}`,
  };
}

/**
 * After a task folded a metric's windows: every rule on that metric (its active version) checks
 * the windows the task touched that have ended by the end of the task's state (so `<` rules do
 * not fire on a window still filling). A crossing creates the alert with a deterministic id, so a
 * rerun, a replay or a second worker never raises it twice; with a webhook, its delivery goes on
 * the `alerts` queue. Returns how many alerts this call raised.
 */
export async function evaluateAlerts(
  deps: EvaluateDeps,
  m: MetricVersion,
  folded: { hours: HourDoc[]; days: DayDoc[] },
  task: { stateId: string; tenant: string },
): Promise<number> {
  const rules = (await deps.rules(m.tenant)).filter((r) => r.enabled && r.metric === m.definition.name);
  if (rules.length === 0 || !(await deps.isActive(m))) return 0;
  const stateEnd = stateEndMs(task.stateId);
  let fired = 0;
  for (const rule of rules) {
    for (const [start, size, groups] of windowsOf(rule.window, folded)) {
      if (start + size > stateEnd) continue;
      for (const [groupKey, value] of Object.entries(groups)) {
        const values: (string | null)[] = JSON.parse(groupKey);
        const group = Object.fromEntries(m.definition.groupBy.map((f, i) => [f, values[i] ?? null]));
        if (Object.entries(rule.groups).some(([f, v]) => group[f] !== v)) continue;
        if (!crosses(rule, value)) continue;
        if (await raise(deps, m, rule, start, groupKey, group, value, task.stateId)) fired++;
      }
    }
  }
  return fired;
}

function* windowsOf(
  window: AlertRule['window'],
  folded: { hours: HourDoc[]; days: DayDoc[] },
): Generator<[number, number, Record<string, number>]> {
  if (window === '1d') {
    for (const d of folded.days) {
      const start = Date.UTC(
        Number(d.day.slice(0, 4)),
        Number(d.day.slice(4, 6)) - 1,
        Number(d.day.slice(6, 8)),
      );
      yield [start, 86_400_000, numbers(d.total)];
    }
    return;
  }
  for (const h of folded.hours) {
    if (window === '1h') yield [h.hour, 3_600_000, numbers(h.total)];
    else
      for (const [mm, groups] of Object.entries(h.minutes ?? {}))
        yield [h.hour + Number(mm) * 60_000, 60_000, groups];
  }
}

const numbers = (groups: Record<string, number | string>) =>
  Object.fromEntries(Object.entries(groups).map(([g, v]) => [g, numberOf(v)]));

async function raise(
  deps: EvaluateDeps,
  m: MetricVersion,
  rule: AlertRule,
  start: number,
  groupKey: string,
  group: Record<string, string | null>,
  value: number,
  stateId: string,
): Promise<boolean> {
  const { id, pk } = alertKeys(m.tenant, rule.name, start, groupKey);
  const doc: AlertDoc = {
    id,
    pk,
    kind: 'alert',
    tenant: m.tenant,
    rule: rule.name,
    metric: m.definition.name,
    version: m.version,
    window: rule.window,
    windowStart: new Date(start).toISOString(),
    group,
    value,
    op: rule.op,
    threshold: rule.threshold,
    firedAt: new Date(deps.now()).toISOString(),
    stateId,
    webhook: rule.webhook ?? null,
    enqueued: false,
    delivery: { status: rule.webhook ? 'pending' : 'none', attempts: 0 },
  };
  let created = true;
  let current = doc;
  try {
    await deps.alerts.items.create(doc);
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
    created = false;
    const { resource } = await deps.alerts.item(id, pk).read<AlertDoc>();
    if (!resource) return false;
    current = resource;
  }
  if (current.delivery.status === 'pending' && !current.enqueued) {
    const message: NotifyMessage = { tenant: m.tenant, pk, id, attempt: 1 };
    await deps.queue.sendMessage(Buffer.from(JSON.stringify(message)).toString('base64'), {
      messageTimeToLive: -1,
    });
    await deps.alerts.item(id, pk).patch([{ op: 'set', path: '/enqueued', value: true }]);
  }
  return created;
}
