import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { openApiDocument } from '../lib/openapi/document.js';

export async function openapi(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return { status: 200, jsonBody: openApiDocument(), headers: { 'cache-control': 'public, max-age=300' } };
}

app.http('openapi', { methods: ['GET'], authLevel: 'anonymous', route: 'v1/openapi.json', handler: openapi });
