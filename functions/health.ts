import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { checkDependencies } from '../lib/health/check.js';
import { dependencyProbes } from '../lib/health/probes.js';
import { services } from '../lib/services/index.js';

export async function health(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const report = await checkDependencies(dependencyProbes(services()));
  // Every 5xx is logged: a 503 here names the dependency that is down.
  if (report.status !== 'ok')
    context.error(`invocation ${context.invocationId}: 503 ${JSON.stringify(report)}`);
  return {
    status: report.status === 'ok' ? 200 : 503,
    jsonBody: report,
    headers: { 'cache-control': 'no-store' },
  };
}

app.http('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
