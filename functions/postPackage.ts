import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handlePostPackage } from '../lib/http/ingest.js';
import { services } from '../lib/services/index.js';

export async function postPackage(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return handlePostPackage(request, services());
}

app.http('postPackage', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'v1/packages',
  handler: postPackage,
});
