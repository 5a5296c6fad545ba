import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBody, readDecoded } from '../../../lib/ingest/body.js';
import { IngestError } from '../../../lib/ingest/errors.js';
import { compileBlocklist, compileSampling } from '../../../lib/ingest/eventRules.js';
import { missingRequired } from '../../../lib/ingest/fastCheck.js';
import { processItems } from '../../../lib/ingest/pipeline.js';
import { compilePolicy, Pseudonymizer } from '../../../lib/ingest/privacy.js';
import { validateEvent } from '../../../lib/ingest/validate.js';
import { zodCheck } from '../../../lib/ingest/zodCheck.js';
import { dataModelFor, EnvelopeSchema } from '../../../lib/schema/index.js';
import { emptyPolicy } from '../../../lib/tenants/policy.js';
import { defaultLimits } from '../../helpers/limits.js';

const now = Date.parse('2026-11-22T10:00:00.000Z');
const rules = {
  tenant: 't',
  policy: compilePolicy({ ...emptyPolicy, sensitiveFields: ['email'] }),
  pseudonymizer: Pseudonymizer.forTenant('property-secret-0123456789', 't'),
  blocklist: compileBlocklist(['x.*']),
  sampling: compileSampling({}),
  optOut: false,
  optOuts: new Set<string>(),
};

/** Only IngestErrors may escape: anything else would be a crash (a 500). */
function onlyIngestErrors(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    if (!(err instanceof IngestError)) throw err;
  }
}

const str = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('__proto__', 'constructor', 'view', 'd', ''),
);
const leaf = fc.oneof(str, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const jsonish = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(str, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Near-valid events: the interesting space for the fast path. */
const eventish = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 70 }), fc.integer()),
    name: fc.oneof(
      fc.constantFrom('view', 'alarm', 'fault', 'session.start', 'session.end', 'feature.used', '1x', ''),
      str,
    ),
    time: fc.oneof(
      fc.integer({ min: now - 8 * 86_400_000, max: now + 7_200_000 }),
      fc
        .date({ min: new Date(now - 8 * 86_400_000), max: new Date(now + 7_200_000), noInvalidDate: true })
        .map((d) => d.toISOString()),
      str,
      fc.double(),
    ),
    core: fc.oneof(
      fc.record(
        {
          deviceId: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()),
          userId: str,
          sessionId: str,
          userKind: fc.constantFrom('external', 'internal', 'test', 'admin'),
          locale: fc.oneof(str, fc.integer()),
        },
        { requiredKeys: [] },
      ),
      jsonish,
    ),
    data: fc.oneof(
      fc.record(
        { contentId: str, accountId: str, sessionId: str, kind: str, message: str, fatal: fc.boolean() },
        { requiredKeys: [] },
      ),
      jsonish,
    ),
    custom: fc.oneof(fc.dictionary(str, leaf, { maxKeys: 70 }), jsonish),
    extra: jsonish,
  },
  { requiredKeys: [] },
);

describe('properties', () => {
  it('no byte string crashes the JSON or NDJSON parser and pipeline', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.constantFrom('json', 'ndjson') as fc.Arbitrary<'json' | 'ndjson'>,
        (bytes, format) => {
          onlyIngestErrors(() => {
            const items = parseBody(Buffer.from(bytes), format, defaultLimits);
            processItems(items, rules, { limits: defaultLimits, partitionIds: ['0'], now });
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('no JSON value crashes the parser and pipeline, in any body shape', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(jsonish, eventish), { maxLength: 8 }), fc.boolean(), (events, ndjson) => {
        const text = ndjson ? events.map((e) => JSON.stringify(e)).join('\n') : JSON.stringify({ events });
        onlyIngestErrors(() => {
          const items = parseBody(Buffer.from(text), ndjson ? 'ndjson' : 'json', defaultLimits);
          const out = processItems(items, rules, { limits: defaultLimits, partitionIds: ['0'], now });
          expect(out.accepted + out.rejected + out.dropped).toBe(events.length);
        });
      }),
      { numRuns: 500 },
    );
  });

  it('no byte string crashes the gzip decoder', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.uint8Array({ maxLength: 300 }).map((b) => {
            const gz = gzipSync(b);
            return gz.subarray(0, Math.max(1, gz.length - (b.length % 7)));
          }),
        ),
        async (bytes) => {
          try {
            await readDecoded(
              (async function* () {
                yield bytes;
              })(),
              { gzip: true, maxBodyBytes: 1024, maxInflatedBytes: 256 },
            );
          } catch (err) {
            if (!(err instanceof IngestError)) throw err;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the cheap rejection of a missing field says exactly what zod says', () => {
    const sparse = eventish.chain((e) =>
      fc
        .subarray(Object.keys(e))
        .map((keys) => Object.fromEntries(keys.map((k) => [k, e[k as keyof typeof e]]))),
    );
    let decided = 0;
    fc.assert(
      fc.property(fc.oneof(sparse, fc.dictionary(str, jsonish, { maxKeys: 3 })), (value) => {
        const quick = missingRequired(value as Record<string, unknown>);
        if (!quick) return;
        decided++;
        const name = (value as { name?: unknown }).name;
        expect(quick).toEqual(
          zodCheck(
            value as Record<string, unknown>,
            typeof name === 'string' ? dataModelFor(name) : undefined,
          ),
        );
      }),
      { numRuns: 3000 },
    );
    expect(decided).toBeGreaterThan(300);
  });

  it('whatever validateEvent accepts, the zod schemas accept (the fast path never widens them)', () => {
    fc.assert(
      fc.property(eventish, (raw) => {
        const value = structuredClone(raw);
        const result = validateEvent(value, { now, maxDepth: 16 });
        if (!result.ok) return;
        expect(EnvelopeSchema.safeParse(value).success).toBe(true);
        const model = dataModelFor(result.event.name);
        if (model) expect(model.safeParse((value as { data?: unknown }).data).success).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('__proto__ keys never change Object.prototype', () => {
    fc.assert(
      fc.property(fc.array(eventish, { minLength: 1, maxLength: 4 }), (events) => {
        const text = JSON.stringify(events).replaceAll('"extra"', '"__proto__"');
        processItems(parseBody(Buffer.from(text), 'json', defaultLimits), rules, {
          limits: defaultLimits,
          partitionIds: ['0'],
          now,
        });
        expect(Object.keys(Object.prototype)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
