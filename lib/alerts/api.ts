import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { checkAdminKey, deniedResponse } from '../auth/adminKey.js';
import { builtinMetrics } from '../metrics/builtin.js';
import { metricDefinitionsTable, readTenantMetric } from '../metrics/store.js';
import type { Services } from '../services/index.js';
import { ALERT_RULE_NAME, AlertRuleSchema, webhookProblem } from './rule.js';
import { tenantWebhookSecret } from './signing.js';
import { alertRulesTable, deleteRule, listRules, readRule, saveRule } from './store.js';

const TENANT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const error = (status: number, code: string, message: string): HttpResponseInit => ({
  status,
  jsonBody: { code, message },
});

/**
 * `GET|PUT|DELETE /api/v1/alerts/rules/{name}` and `GET /api/v1/alerts/rules`: a tenant's alert
 * rules (admin key; the tenant in `?tenant=`). The list also carries the tenant's webhook signing
 * secret, which receivers verify `x-telemetry-signature` with.
 */
export async function handleAlertRules(request: HttpRequest, s: Services): Promise<HttpResponseInit> {
  const auth = checkAdminKey(request.headers, s.config);
  if (!auth.ok) return deniedResponse(auth);
  const tenant = request.query.get('tenant') ?? '';
  if (!TENANT.test(tenant)) {
    return error(
      400,
      'TENANT_REQUIRED',
      'Name the tenant: ?tenant=<tenant id> (letters, digits, _ and -, at most 64)',
    );
  }
  const table = s.table(alertRulesTable);
  const name = request.params.name;
  if (request.method === 'GET' && !name) {
    return {
      status: 200,
      jsonBody: {
        tenant,
        rules: await listRules(table, tenant),
        webhookSecret: tenantWebhookSecret(s.config.WEBHOOK_SIGNING_SECRET, tenant),
      },
    };
  }
  if (!name || !ALERT_RULE_NAME.test(name)) {
    return error(
      400,
      'RULE_INVALID',
      'A rule name is 1-40 lowercase letters, digits and hyphens: /api/v1/alerts/rules/{name}',
    );
  }
  if (request.method === 'GET') {
    const rule = await readRule(table, tenant, name);
    return rule ? { status: 200, jsonBody: rule } : error(404, 'RULE_NOT_FOUND', `No alert rule '${name}'`);
  }
  if (request.method === 'DELETE') {
    return (await deleteRule(table, tenant, name))
      ? { status: 204 }
      : error(404, 'RULE_NOT_FOUND', `No alert rule '${name}'`);
  }
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return error(400, 'BODY_MALFORMED', 'The body must be a JSON alert rule');
  }
  const parsed = AlertRuleSchema.safeParse({ ...(body as object), name });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return error(400, 'RULE_INVALID', `${issue.path.join('.') || 'rule'}: ${issue.message}`);
  }
  const rule = parsed.data;
  const builtin = builtinMetrics.find((m) => m.name === rule.metric);
  const own = builtin
    ? undefined
    : await readTenantMetric(s.table(metricDefinitionsTable), tenant, rule.metric);
  const definition = builtin ?? own?.building?.definition ?? own?.active?.definition;
  if (!definition || own?.deleted) return error(400, 'RULE_INVALID', `metric: no metric '${rule.metric}'`);
  if (!definition.windows.includes(rule.window)) {
    return error(
      400,
      'RULE_INVALID',
      `window: metric '${rule.metric}' keeps ${definition.windows.join(', ')} windows`,
    );
  }
  const unknown = Object.keys(rule.groups).find((f) => !definition.groupBy.includes(f));
  if (unknown)
    return error(400, 'RULE_INVALID', `groups: '${unknown}' is not a groupBy field of '${rule.metric}'`);
  const problem = rule.webhook && webhookProblem(rule.webhook, s.config.NOTIFY_ALLOW_HTTP_LOOPBACK);
  if (problem) return error(400, 'RULE_INVALID', `webhook: ${problem}`);
  await saveRule(table, tenant, rule, new Date());
  return { status: 200, jsonBody: rule };
}
