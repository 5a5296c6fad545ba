import { isIP } from 'node:net';
import { z } from 'zod';
import { FieldPathSchema, METRIC_NAME, WINDOWS } from '../metrics/definition.js';

export const ALERT_RULE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

/**
 * An alert rule: when a window of a metric crosses the threshold for a group (optionally only
 * groups with these field values), one alert per (rule, group, window) is raised and, with a
 * webhook, delivered signed.
 */
export const AlertRuleSchema = z.strictObject({
  name: z.string().regex(ALERT_RULE_NAME, 'a rule name is 1-40 lowercase letters, digits and hyphens'),
  metric: z.string().regex(METRIC_NAME, 'a metric name'),
  window: z.enum(WINDOWS),
  op: z.enum(['>', '>=', '<', '<=']),
  threshold: z.number(),
  /** Only groups whose groupBy fields have these values (`{"data.stationId": "bts-1"}`). */
  groups: z.record(FieldPathSchema, z.string()).default({}),
  webhook: z.url().max(2048).optional(),
  enabled: z.boolean().default(true),
});
export type AlertRule = z.infer<typeof AlertRuleSchema>;

export function crosses(rule: Pick<AlertRule, 'op' | 'threshold'>, value: number): boolean {
  switch (rule.op) {
    case '>':
      return value > rule.threshold;
    case '>=':
      return value >= rule.threshold;
    case '<':
      return value < rule.threshold;
    case '<=':
      return value <= rule.threshold;
  }
}

const loopback = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Private, loopback, link-local (cloud metadata) and unspecified addresses are never webhook targets. */
function internalAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) {
    const [a, b] = h.split('.').map(Number) as [number, number];
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (isIP(h) === 6)
    return h === '::1' || h === '::' || /^f[cd]/i.test(h) || /^fe[89ab]/i.test(h) || h.startsWith('::ffff:');
  return h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.internal');
}

/** Why a webhook URL is refused, or undefined. `https` only; plain `http` only to loopback when allowed (development). */
export function webhookProblem(url: string, allowHttpLoopback: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (u.username || u.password)
    return 'credentials in the URL are not allowed; the payload is signed instead';
  if (u.protocol === 'http:' && allowHttpLoopback && loopback.has(u.hostname)) return undefined;
  if (u.protocol !== 'https:') return 'webhooks must use https (plain http only to loopback, in development)';
  if (internalAddress(u.hostname)) return `'${u.hostname}' is an internal address`;
  return undefined;
}
