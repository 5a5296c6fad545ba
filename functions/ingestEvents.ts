import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleEvents } from '../lib/http/ingest.js';
import { services } from '../lib/services/index.js';

export async function ingestEvents(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleEvents(request, services());
}

app.http('ingestEvents', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'v1/events',
  handler: ingestEvents,
});
