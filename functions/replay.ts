import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { checkAdminKey, deniedResponse } from '../lib/auth/adminKey.js';
import { controlTable } from '../lib/main/control.js';
import { MainError } from '../lib/main/errors.js';
import { requestReplay } from '../lib/main/replay.js';
import { pipelines } from '../lib/pipelines/registry.js';
import { services } from '../lib/services/index.js';

export async function replay(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const s = services();
  const auth = checkAdminKey(request.headers, s.config);
  if (!auth.ok) return deniedResponse(auth);
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return { status: 400, jsonBody: { code: 'BODY_MALFORMED', message: 'The body must be a JSON object' } };
  }
  try {
    const result = await requestReplay(
      { control: s.table(controlTable), pipelines: pipelines(), now: Date.now },
      body,
    );
    const { etag: _etag, ...replay } = result.replay;
    if (result.created)
      context.log(`replay ${replay.id}: ${replay.pipeline} ${replay.from}..${replay.to} requested`);
    return {
      status: result.created ? 202 : 200,
      jsonBody: { replay: { ...replay, tenant: replay.tenant || null }, status: '/api/v1/status' },
    };
  } catch (err) {
    if (err instanceof MainError)
      return { status: err.status, jsonBody: { code: err.code, message: err.message } };
    throw err;
  }
}

app.http('replay', { methods: ['POST'], authLevel: 'anonymous', route: 'v1/replay', handler: replay });
