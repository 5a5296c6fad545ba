import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleGetPackage } from '../lib/http/ingest.js';
import { services } from '../lib/services/index.js';

export async function getPackage(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleGetPackage(request, services());
}

app.http('getPackage', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'v1/packages/{id}',
  handler: getPackage,
});
