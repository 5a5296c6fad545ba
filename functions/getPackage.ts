import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { httpDeps } from '../lib/http/deps.js';
import { handleGetPackage } from '../lib/http/packages.js';
import { services } from '../lib/services/index.js';

export async function getPackage(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleGetPackage(request, httpDeps(services()), context);
}

app.http('getPackage', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'v1/packages/{id}',
  handler: getPackage,
});
