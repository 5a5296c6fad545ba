import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { handlePutConfig } from '../lib/http/ingest.js';
import { services } from '../lib/services/index.js';

export async function putConfig(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return handlePutConfig(request, services());
}

app.http('putConfig', { methods: ['PUT'], authLevel: 'function', route: 'v1/config', handler: putConfig });
