import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { httpDeps } from '../lib/http/deps.js';
import { handlePostPackage } from '../lib/http/packages.js';
import { services } from '../lib/services/index.js';

export async function postPackage(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handlePostPackage(request, httpDeps(services()), context);
}

app.http('postPackage', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'v1/packages',
  handler: postPackage,
});
