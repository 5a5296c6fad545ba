import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { checkDependencies } from '../lib/health/check.js';
import { dependencyProbes } from '../lib/health/probes.js';
import { services } from '../lib/services/index.js';

export async function health(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const report = await checkDependencies(dependencyProbes(services()));
  return {
    status: report.status === 'ok' ? 200 : 503,
    jsonBody: report,
    headers: { 'cache-control': 'no-store' },
  };
}

app.http('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
