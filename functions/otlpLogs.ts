import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { httpDeps } from '../lib/http/deps.js';
import { handleOtlpLogs } from '../lib/http/otlp.js';
import { services } from '../lib/services/index.js';

export async function otlpLogs(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleOtlpLogs(request, httpDeps(services()), context);
}

// Anonymous at the function level, like the Segment routes: an exporter configured with an
// endpoint and a key gets through. Every request is authenticated by its tenant key.
app.http('otlpLogs', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'v1/otlp/v1/logs',
  handler: otlpLogs,
});
