import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleAlertRules } from '../lib/alerts/api.js';
import { services } from '../lib/services/index.js';

export async function alertRules(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleAlertRules(request, services());
}

app.http('alertRules', {
  methods: ['GET', 'PUT', 'DELETE'],
  authLevel: 'anonymous',
  route: 'v1/alerts/rules/{name?}',
  handler: alertRules,
});
