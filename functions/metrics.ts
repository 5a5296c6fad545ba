import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { queryDepsFrom } from '../lib/query/deps.js';
import { handleMetrics } from '../lib/query/http.js';
import { services } from '../lib/services/index.js';

export async function metrics(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleMetrics(request, queryDepsFrom(services()), context);
}

// Anonymous to the host: the tenant key (or the admin key with ?tenant=) authorises, as for status.
// v1/metrics/definitions is metricDefinitions' (a literal segment wins over {metric}).
app.http('metrics', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'v1/metrics/{metric}',
  handler: metrics,
});
