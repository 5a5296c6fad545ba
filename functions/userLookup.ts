import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { queryDepsFrom } from '../lib/query/deps.js';
import { handleUser } from '../lib/query/http.js';
import { services } from '../lib/services/index.js';

export async function userLookup(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleUser(request, queryDepsFrom(services()), context);
}

app.http('userLookup', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'v1/users/{userId}',
  handler: userLookup,
});
