import { ingestEvents } from '../ingest/request.js';
import type { HttpDeps } from './deps.js';
import type { ApiRequest, RequestLog } from './request.js';
import { guarded, type JsonResponse, outcomeResponse } from './responses.js';
import { callerRules } from './tenant.js';

/** POST /v1/events */
export function handleEvents(request: ApiRequest, deps: HttpDeps, log: RequestLog): Promise<JsonResponse> {
  return guarded(log, async () => {
    const caller = await callerRules(request, deps);
    if ('denied' in caller) return caller.denied;
    const work = ingestEvents(request, caller.rules, deps.ingest);
    return outcomeResponse(await (deps.quality?.track(caller.rules.tenant, work) ?? work));
  });
}
