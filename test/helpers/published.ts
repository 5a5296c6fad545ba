import { gunzipSync } from 'node:zlib';
import type { BodyItem } from '../../lib/ingest/body.js';
import { compileBlocklist, compileSampling } from '../../lib/ingest/eventRules.js';
import type { Outcome, TenantRules } from '../../lib/ingest/pipeline.js';
import { compilePolicy, Pseudonymizer } from '../../lib/ingest/privacy.js';
import { publishEvents } from '../../lib/ingest/request.js';
import { defaultLimits } from './limits.js';
import { memoryPublisher } from './memoryPublisher.js';

/** The pseudonymizer of the test tenant `t1`. */
export const testPseudonymizer = Pseudonymizer.forTenant('test-privacy-secret-0123456789', 't1');

/** Rules of the test tenant `t1`: every user external, `sensitiveFields` as given, nothing blocked. */
export function testRules(sensitiveFields: string[] = []): TenantRules {
  return {
    tenant: 't1',
    policy: compilePolicy({ sensitiveFields, internalDomains: [], internalIds: [] }),
    pseudonymizer: testPseudonymizer,
    blocklist: compileBlocklist([]),
    sampling: compileSampling({}),
    optOut: false,
    optOuts: new Set(),
  };
}

/**
 * Items through the path every protocol shares (validation, privacy, packing) into an in-memory
 * hub: the outcome, and the raw lines as they would land, as text.
 */
export async function publishedLines(
  items: BodyItem[],
  rules: TenantRules,
  now: number,
): Promise<{ outcome: Outcome; lines: string[] }> {
  const publisher = memoryPublisher();
  const outcome = await publishEvents(
    items,
    rules,
    { publisher, clock: () => now, limits: defaultLimits, deadlineMs: 5000 },
    { now },
  );
  const lines = publisher.packs.flatMap((p) => gunzipSync(p.body).toString().trimEnd().split('\n'));
  return { outcome, lines };
}
