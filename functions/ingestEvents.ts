import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { httpDeps } from '../lib/http/deps.js';
import { handleEvents } from '../lib/http/events.js';
import { services } from '../lib/services/index.js';

export async function ingestEvents(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleEvents(request, httpDeps(services()), context);
}

app.http('ingestEvents', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'v1/events',
  handler: ingestEvents,
});
