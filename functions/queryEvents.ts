import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { queryDepsFrom } from '../lib/query/deps.js';
import { handleEventsQuery } from '../lib/query/http.js';
import { services } from '../lib/services/index.js';

export async function queryEvents(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleEventsQuery(request, queryDepsFrom(services()), context);
}

// GET on the route ingestEvents takes POST on.
app.http('queryEvents', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'v1/events',
  handler: queryEvents,
});
