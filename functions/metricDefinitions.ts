import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleMetricDefinitions } from '../lib/rebuild/api.js';
import { services } from '../lib/services/index.js';

export async function metricDefinitions(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleMetricDefinitions(request, services());
}

app.http('metricDefinitions', {
  methods: ['GET', 'PUT', 'DELETE'],
  authLevel: 'anonymous',
  route: 'v1/metrics/definitions/{name?}',
  handler: metricDefinitions,
});
