import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleChangeConfig } from '../lib/http/config.js';
import { httpDeps } from '../lib/http/deps.js';
import { services } from '../lib/services/index.js';

export async function putConfig(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleChangeConfig(request, httpDeps(services()), context);
}

// PUT replaces the whole config, PATCH merges into it. Like every admin endpoint (replay, status)
// it is anonymous to the Functions host and authorised by the admin key alone: the function key
// ships inside every client app, so it would add no protection, only a second, bare 401.
app.http('putConfig', {
  methods: ['PUT', 'PATCH'],
  authLevel: 'anonymous',
  route: 'v1/config',
  handler: putConfig,
});
