import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handlePatchConfig } from '../lib/http/config.js';
import { httpDeps } from '../lib/http/deps.js';
import { services } from '../lib/services/index.js';

export async function patchConfig(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  return handlePatchConfig(request, httpDeps(services()), context);
}

app.http('patchConfig', {
  methods: ['PATCH'],
  authLevel: 'function',
  route: 'v1/config',
  handler: patchConfig,
});
