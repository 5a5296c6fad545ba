import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleChangeConfig } from '../lib/http/config.js';
import { httpDeps } from '../lib/http/deps.js';
import { services } from '../lib/services/index.js';

export async function putConfig(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleChangeConfig(request, httpDeps(services()), context);
}

// PUT replaces the whole config, PATCH merges into it: one function, one admin policy.
app.http('putConfig', {
  methods: ['PUT', 'PATCH'],
  authLevel: 'function',
  route: 'v1/config',
  handler: putConfig,
});
