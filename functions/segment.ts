import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { httpDeps } from '../lib/http/deps.js';
import { handleSegment } from '../lib/http/segment.js';
import { services } from '../lib/services/index.js';

export async function segment(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleSegment(request, httpDeps(services()), context);
}

// Anonymous at the function level: Segment's SDKs cannot send a function key. Every request is
// authenticated by its tenant key (the write key) before anything is published.
app.http('segment', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'v1/segment/v1/{kind}',
  handler: segment,
});
