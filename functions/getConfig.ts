import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handleGetConfig } from '../lib/http/ingest.js';
import { services } from '../lib/services/index.js';

export async function getConfig(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return handleGetConfig(request, services());
}

app.http('getConfig', { methods: ['GET'], authLevel: 'function', route: 'v1/config', handler: getConfig });
