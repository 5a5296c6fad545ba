import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { queryDepsFrom } from '../lib/query/deps.js';
import { handleAlerts } from '../lib/query/http.js';
import { services } from '../lib/services/index.js';

export async function alerts(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleAlerts(request, queryDepsFrom(services()), context);
}

app.http('alerts', { methods: ['GET'], authLevel: 'anonymous', route: 'v1/alerts', handler: alerts });
