import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { dashboardAsset } from '../lib/dashboard/assets.js';

export async function dashboard(
  request: HttpRequest,
  _context: InvocationContext,
): Promise<HttpResponseInit> {
  return dashboardAsset(request.params.file ?? '');
}

// Under the route prefix like every function: Azure serves its own page at `/`.
app.http('dashboard', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'dashboard/{*file}',
  handler: dashboard,
});
