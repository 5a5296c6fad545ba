import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBody } from '../../../lib/ingest/body.js';
import { compileBlocklist, compileSampling } from '../../../lib/ingest/eventRules.js';
import { canonicalUtcMs, isoTimeMs } from '../../../lib/ingest/eventTime.js';
import { processItems, type TenantRules } from '../../../lib/ingest/pipeline.js';
import { compilePolicy, Pseudonymizer, privateCore, resolveUserKind } from '../../../lib/ingest/privacy.js';
import { escapeFree, jsonValue, quote } from '../../../lib/ingest/serialize.js';
import {
  dataModelFor,
  EnvelopeSchema,
  MAX_IDENTIFIER_LENGTH,
  USER_KINDS,
} from '../../../lib/schema/index.js';
import { defaultLimits } from '../../helpers/limits.js';
import { privateFields } from '../../helpers/privateFields.js';

const now = Date.parse('2026-11-22T10:00:00.000Z');
const rules: TenantRules = {
  tenant: 'acme',
  policy: compilePolicy({
    sensitiveFields: ['email', 'accountId', 'os'],
    internalDomains: ['contoso.com'],
    internalIds: ['d-internal'],
  }),
  pseudonymizer: Pseudonymizer.forTenant('serialize-secret-0123456789', 'acme'),
  blocklist: compileBlocklist([]),
  sampling: compileSampling({}),
  optOut: false,
  optOuts: new Set<string>(),
};

/**
 * The straightforward implementation the fast path must match: zod parse, then the privacy
 * transform, then JSON.stringify of the published shape.
 */
function reference(value: Record<string, unknown>, receivedAt: string): Record<string, unknown> {
  // The documented rule for __proto__-style keys: dropped from custom and from free-form data.
  if (value.custom) dropUnsafe(value.custom, false);
  if (value.data && !dataModelFor(value.name as string)) dropUnsafe(value.data, true);
  const e = EnvelopeSchema.parse(value);
  const model = dataModelFor(e.name);
  const data = model ? (model.parse(e.data) as Record<string, unknown>) : e.data;
  const time = new Date(typeof e.time === 'number' ? e.time : Date.parse(e.time)).toISOString();
  const kind = resolveUserKind(e.core, rules.policy);
  const external = kind === 'external';
  const p = rules.pseudonymizer;
  const line = JSON.stringify({
    id: e.id,
    name: e.name,
    time,
    tenant: rules.tenant,
    receivedAt,
    core: privateCore(e.core, kind, rules.policy, p),
    data: external ? privateFields(data, rules.policy, p) : data,
    custom: external ? privateFields(e.custom, rules.policy, p) : e.custom,
  });
  return JSON.parse(line) as Record<string, unknown>;
}

const unsafe = new Set(['__proto__', 'constructor', 'prototype']);

function dropUnsafe(node: unknown, deep: boolean): void {
  if (typeof node !== 'object' || node === null) return;
  for (const key of Object.keys(node)) {
    if (unsafe.has(key)) delete (node as Record<string, unknown>)[key];
    else if (deep) dropUnsafe((node as Record<string, unknown>)[key], true);
  }
}

// Strings that exercise escaping: quotes, backslashes, control characters, U+2028, lone surrogates.
const tricky = fc.constantFrom(
  'a"b',
  'c\\d',
  'e\nf',
  '\u0000',
  '\u2028',
  '\ud800',
  'x\udc00y',
  'é€😀',
  '</script>',
);
const text = (min: number, max: number) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ minLength: min, maxLength: max }) },
    { weight: 1, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'binary' }) },
    { weight: 1, arbitrary: tricky },
  );
const key = fc.oneof(text(1, 20), fc.constantFrom('constructor', 'prototype'));
const scalar = fc.oneof(
  text(0, 30),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
);
const free = fc.dictionary(
  fc.oneof(key, fc.constantFrom('email', 'sessionId', 'userId', 'accountId')),
  fc.oneof(scalar, fc.constant(null), fc.jsonValue({ maxDepth: 3 })),
  { maxKeys: 6 },
);
const id1 = text(1, 40);

const models: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  view: fc.record({ contentId: id1, accountId: id1 }, { requiredKeys: ['contentId'] }),
  alarm: fc.record({
    stationId: id1,
    datapointId: id1,
    alarmId: id1,
    value: fc.double({ noNaN: true, noDefaultInfinity: true }),
    valueThreshold: fc.integer(),
    isActive: fc.boolean(),
  }),
  fault: fc.record(
    { kind: id1, message: text(0, 60), stack: text(0, 60), fatal: fc.boolean() },
    { requiredKeys: ['kind', 'message', 'fatal'] },
  ),
  'session.start': fc.record({ sessionId: id1 }),
  'session.end': fc.record({ sessionId: id1 }),
};

const time = fc.oneof(
  fc.integer({ min: now - 6 * 86_400_000, max: now + 3_000_000 }),
  fc.integer({ min: now - 6 * 86_400_000, max: now + 3_000_000 }).map((ms) => new Date(ms).toISOString()),
  fc.constantFrom('2026-11-22T11:59:00+02:00', '2026-11-22T09:59:00Z', '2026-11-21T10:00:00.5Z'),
);

const validEvent = fc
  .oneof(
    fc.constantFrom(...Object.keys(models)).chain((name) => fc.tuple(fc.constant(name), models[name]!)),
    fc.tuple(
      fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,20}$/).filter((n) => !dataModelFor(n)),
      fc.option(free, { nil: undefined }),
    ),
  )
  .chain(([name, data]) =>
    fc
      .record(
        {
          id: id1,
          name: fc.constant(name),
          time,
          core: fc.record(
            {
              deviceId: fc.oneof(id1, fc.constant('d-internal')),
              userId: fc.oneof(id1, fc.constant('jo@contoso.com')),
              sessionId: id1,
              os: id1,
              locale: id1,
              userKind: fc.constantFrom(...USER_KINDS),
            },
            { requiredKeys: ['deviceId'] },
          ),
          custom: fc.dictionary(fc.oneof(key, fc.constant('email')), scalar, { maxKeys: 8 }),
        },
        { requiredKeys: ['id', 'name', 'time', 'core'] },
      )
      .map((e) => (data === undefined ? e : { ...e, data })),
  )
  // A sensitive value over the identifier cap refuses the event (tested in request.test.ts).
  .filter((e) => {
    const fields = [(e as { data?: Record<string, unknown> }).data, e.custom];
    return fields.every(
      (f) =>
        !f ||
        Object.entries(f).every(
          ([k, v]) =>
            !rules.policy.fieldSet.has(k) ||
            v === null ||
            (typeof v === 'string' ? v : JSON.stringify(v)).length <= MAX_IDENTIFIER_LENGTH,
        ),
    );
  });

/** Runs the fast path over a JSON body and returns the published lines by id. */
async function published(
  events: unknown[],
  forceEscapes: boolean,
): Promise<Map<string, Record<string, unknown>>> {
  const body = Buffer.from(JSON.stringify(events));
  const out = processItems(parseBody(body, 'json', defaultLimits), rules, {
    limits: defaultLimits,
    partitionIds: ['0'],
    now,
    escapeFree: forceEscapes ? false : escapeFree(body),
  });
  expect(out.errors).toEqual([]);
  expect(out.accepted).toBe(events.length);
  const byId = new Map<string, Record<string, unknown>>();
  for (const pack of await out.packs) {
    for (const line of gunzipSync(pack.body).toString('utf8').trimEnd().split('\n')) {
      const event = JSON.parse(line) as Record<string, unknown>;
      byId.set(event.id as string, event);
    }
  }
  return byId;
}

describe('the fast serializer', () => {
  it('publishes what zod parse -> privacy -> JSON.stringify publishes, on random valid events', async () => {
    const receivedAt = new Date(now).toISOString();
    await fc.assert(
      fc.asyncProperty(
        fc.array(validEvent, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        async (raw, force) => {
          // Unique ids, so lines can be matched to their events across packs.
          const events = raw.map((e, i) => ({ ...e, id: `${i}:${e.id}` }));
          const expected = events.map((e) => reference(JSON.parse(JSON.stringify(e)), receivedAt));
          const byId = await published(structuredClone(events), force);
          expect(byId.size).toBe(events.length);
          for (const want of expected) expect(byId.get(want.id as string)).toEqual(want);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('quote and jsonValue print exactly what JSON.stringify prints', () => {
    fc.assert(
      fc.property(fc.jsonValue(), text(0, 30), (value, s) => {
        const parsed = JSON.parse(JSON.stringify(value)) as unknown;
        expect(jsonValue(parsed, false)).toBe(JSON.stringify(parsed));
        expect(quote(s, false)).toBe(JSON.stringify(s));
      }),
      { numRuns: 1000 },
    );
  });

  it('escapeFree holds exactly when no parsed string needs escaping', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const body = Buffer.from(JSON.stringify(value));
        if (escapeFree(body)) expect(jsonValue(JSON.parse(body.toString()), true)).toBe(body.toString());
      }),
      { numRuns: 1000 },
    );
  });

  it('reads canonical UTC times as Date.parse does, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0001-01-01T00:00:00Z'),
          max: new Date('9999-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        (d) => {
          expect(canonicalUtcMs(d.toISOString())).toBe(d.getTime());
        },
      ),
      { numRuns: 2000 },
    );
    for (const s of [
      '2026-02-29T10:00:00.000Z',
      '2026-11-22T24:00:00.000Z',
      '2026-11-22T10:00:00Z',
      '2026-11-22T10:00:00.000+00:00',
      '2026-1a-22T10:00:00.000Z',
    ])
      expect(canonicalUtcMs(s)).toBeNaN();
    expect(canonicalUtcMs('2024-02-29T23:59:59.999Z')).toBe(Date.parse('2024-02-29T23:59:59.999Z'));
  });

  it('reads every real ISO time with a zone as Date.parse does, and no impossible one', () => {
    const two = (n: number) => String(n).padStart(2, '0');
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1970-01-02T00:00:00Z'),
          max: new Date('2100-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
        fc.boolean(),
        (d, offsetMinutes, colon) => {
          // The same instant written in another zone: local fields shifted by the offset.
          const local = new Date(d.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
          const sign = offsetMinutes < 0 ? '-' : '+';
          const abs = Math.abs(offsetMinutes);
          const zone = `${sign}${two(Math.floor(abs / 60))}${colon ? ':' : ''}${two(abs % 60)}`;
          expect(isoTimeMs(`${local}${zone}`)).toBe(d.getTime());
        },
      ),
      { numRuns: 2000 },
    );
    for (const s of [
      '2026-04-31T00:00:00Z',
      '2100-02-29T00:00:00Z',
      '2026-11-22T23:59:60Z',
      '2026-00-10T00:00Z',
    ])
      expect(isoTimeMs(s)).toBeNaN();
    expect(isoTimeMs('2000-02-29T00:00Z')).toBe(Date.parse('2000-02-29T00:00Z'));
  });
});
