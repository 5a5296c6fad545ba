import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handlePutConfig } from '../lib/http/config.js';
import { httpDeps } from '../lib/http/deps.js';
import { services } from '../lib/services/index.js';

export async function putConfig(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handlePutConfig(request, httpDeps(services()), context);
}

app.http('putConfig', { methods: ['PUT'], authLevel: 'function', route: 'v1/config', handler: putConfig });
