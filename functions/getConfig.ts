import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleGetConfig } from '../lib/http/config.js';
import { httpDeps } from '../lib/http/deps.js';
import { services } from '../lib/services/index.js';

export async function getConfig(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleGetConfig(request, httpDeps(services()), context);
}

app.http('getConfig', { methods: ['GET'], authLevel: 'function', route: 'v1/config', handler: getConfig });
