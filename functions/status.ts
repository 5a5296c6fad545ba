import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { alertsQueue } from '../lib/alerts/evaluate.js';
import { checkAdminKey, deniedResponse } from '../lib/auth/adminKey.js';
import { statusDepsFrom } from '../lib/main/deps.js';
import { pipelineStatus } from '../lib/main/status.js';
import { pipelines } from '../lib/pipelines/registry.js';
import { qualityTable } from '../lib/quality/recorder.js';
import { qualityReport } from '../lib/quality/report.js';
import { services } from '../lib/services/index.js';

export async function status(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const s = services();
  const auth = checkAdminKey(request.headers, s.config);
  if (!auth.ok) return deniedResponse(auth);
  const report = await pipelineStatus({
    ...statusDepsFrom(s, pipelines()),
    queues: [alertsQueue],
    quality: () => qualityReport(s.table(qualityTable), Date.now()),
  });
  return { status: 200, jsonBody: report, headers: { 'cache-control': 'no-store' } };
}

app.http('status', { methods: ['GET'], authLevel: 'anonymous', route: 'v1/status', handler: status });
