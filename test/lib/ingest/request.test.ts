import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { errorResponse, outcomeResponse } from '../../../lib/http/responses.js';
import { IngestError } from '../../../lib/ingest/errors.js';
import { compileBlocklist, compileSampling, sampleFraction } from '../../../lib/ingest/eventRules.js';
import { partitionFor } from '../../../lib/ingest/pack.js';
import type { TenantRules } from '../../../lib/ingest/pipeline.js';
import { compilePolicy, Pseudonymizer, pseudonymCache } from '../../../lib/ingest/privacy.js';
import type { Publisher } from '../../../lib/ingest/publisher.js';
import { ingestEvents } from '../../../lib/ingest/request.js';
import { RawEventSchema } from '../../../lib/schema/index.js';
import { defaultLimits } from '../../helpers/limits.js';
import { memoryPublisher } from '../../helpers/memoryPublisher.js';

const now = Date.parse('2026-11-22T10:00:00.000Z');
const clock = () => now;
/** A request log that keeps what it was told. */
function testLog() {
  const lines: unknown[][] = [];
  return {
    lines,
    invocationId: 'inv-1',
    warn: (...args: unknown[]) => lines.push(['warn', ...args]),
    error: (...args: unknown[]) => lines.push(['error', ...args]),
  };
}
const pseudonymizer = Pseudonymizer.forTenant('test-privacy-secret-0123456789', 't1');

function rules(overrides: Partial<TenantRules> = {}): TenantRules {
  return {
    tenant: 't1',
    policy: compilePolicy({ sensitiveFields: [], internalDomains: ['contoso.com'], internalIds: [] }),
    pseudonymizer,
    blocklist: compileBlocklist(['debug.*']),
    sampling: compileSampling({}),
    optOut: false,
    optOuts: new Set(),
    ...overrides,
  };
}

const ev = (n: number, extra: Record<string, unknown> = {}) => ({
  id: `e${n}`,
  name: 'feature.used',
  time: '2026-11-22T09:00:00.000Z',
  core: { deviceId: `d${n % 2}`, userId: `u${n}` },
  ...extra,
});

function req(body: string | Buffer, headers: Record<string, string> = {}) {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  return {
    headers: new Headers({ 'content-type': 'application/json', ...headers }),
    body: (async function* () {
      yield buf;
    })(),
  };
}

function lines(publisher: ReturnType<typeof memoryPublisher>): Record<string, unknown>[] {
  return publisher.packs.flatMap((p) =>
    gunzipSync(p.body)
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l)),
  );
}

describe('ingestEvents', () => {
  it('accepts good events, rejects bad ones by index, and publishes raw events per device', async () => {
    const publisher = memoryPublisher();
    const body = JSON.stringify([
      ev(0),
      { ...ev(1), name: '!' },
      ev(2),
      ev(3, { core: { deviceId: 'x', userId: 'a@contoso.com' } }),
    ]);
    const outcome = await ingestEvents(req(body), rules(), {
      publisher,
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    expect(outcome).toEqual({
      accepted: 3,
      rejected: 1,
      dropped: 0,
      errors: [{ index: 1, code: 'INVALID_NAME', path: 'name', message: expect.stringContaining('name') }],
    });
    expect(outcomeResponse(outcome).status).toBe(202);
    const stored = lines(publisher);
    for (const line of stored) expect(RawEventSchema.safeParse(line).success).toBe(true);
    expect(stored[0]).toEqual({
      id: 'e0',
      name: 'feature.used',
      time: '2026-11-22T09:00:00.000Z',
      tenant: 't1',
      receivedAt: '2026-11-22T10:00:00.000Z',
      core: {
        deviceId: pseudonymizer.pseudonym('d0'),
        userId: pseudonymizer.pseudonym('u0'),
        userKind: 'external',
      },
    });
    // internal by email domain: raw values kept
    expect(stored.find((l) => l.id === 'e3')?.core).toEqual({
      deviceId: 'x',
      userId: 'a@contoso.com',
      userKind: 'internal',
    });
    // Packs per partition of each device (its pseudonym, or its raw id for internal users).
    const ids = ['0', '1', '2', '3'];
    const partitions = new Set([
      partitionFor('t1', pseudonymizer.pseudonym('d0'), ids),
      partitionFor('t1', 'x', ids),
    ]);
    expect(publisher.packs.map((p) => p.partitionId).sort()).toEqual([...partitions].sort());
  });

  it('refuses an identifier longer than 256 characters before hashing or caching it, for every user', async () => {
    const huge = randomBytes(1024 * 1024).toString('hex'); // 2 MiB that compress like data, not padding
    const before = pseudonymCache.bytes;
    const body = gzipSync(
      JSON.stringify([
        ev(0, { data: { userId: huge } }),
        ev(1, { core: { deviceId: 'x', userId: 'a@contoso.com' }, custom: { sessionId: 's'.repeat(257) } }),
        ev(2, { data: { userId: 'u'.repeat(256) } }),
        ev(3, { data: { userId: 'short' }, custom: { userId: 'x'.repeat(300) } }),
      ]),
    );
    const outcome = await ingestEvents(req(body, { 'content-encoding': 'gzip' }), rules(), {
      publisher: memoryPublisher(),
      clock,
      limits: { ...defaultLimits, maxBodyBytes: 4 * 1024 * 1024, maxEventBytes: 4 * 1024 * 1024 },
      deadlineMs: 5000,
    });
    expect(outcome).toMatchObject({ accepted: 1, rejected: 3 });
    expect(outcome.errors).toEqual([
      {
        index: 0,
        code: 'IDENTIFIER_TOO_LONG',
        path: 'data.userId',
        message: 'data.userId is an identifier (pseudonymised for external users): at most 256 characters',
      },
      expect.objectContaining({ index: 1, code: 'IDENTIFIER_TOO_LONG', path: 'custom.sessionId' }),
      expect.objectContaining({ index: 3, code: 'IDENTIFIER_TOO_LONG', path: 'custom.userId' }),
    ]);
    expect(pseudonymCache.bytes - before).toBeLessThan(4096);
  });

  it('checks the event size as sent: pseudonyms do not make a large event small', async () => {
    const policy = compilePolicy({ sensitiveFields: ['a', 'b', 'c'], internalDomains: [], internalIds: [] });
    const sensitive = { a: 'x'.repeat(250), b: 'y'.repeat(250), c: 'z'.repeat(250) };
    const outcome = await ingestEvents(
      req(JSON.stringify([ev(0, { custom: sensitive }), ev(1)])),
      rules({ policy }),
      {
        publisher: memoryPublisher(),
        clock,
        limits: { ...defaultLimits, maxEventBytes: 700 },
        deadlineMs: 5000,
      },
    );
    expect(outcome.errors).toEqual([
      { index: 0, code: 'EVENT_TOO_LARGE', path: '', message: 'The event is larger than 700 bytes' },
    ]);
    expect(outcome.accepted).toBe(1);
  });

  it('pseudonymises a user who only claims to be internal: the raw ids are never published', async () => {
    const publisher = memoryPublisher();
    const claim = ev(0, { core: { deviceId: 'phone-1', userId: 'ann@example.com', userKind: 'internal' } });
    await ingestEvents(req(JSON.stringify([claim])), rules(), {
      publisher,
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    expect(lines(publisher)[0]?.core).toEqual({
      deviceId: pseudonymizer.pseudonym('phone-1'),
      userId: pseudonymizer.pseudonym('ann@example.com'),
      userKind: 'external',
    });
  });

  it('packs a gateway of 5,000 devices into one pack per partition, each device on its partition', async () => {
    const publisher = memoryPublisher(4);
    const events = Array.from({ length: 5000 }, (_, i) => ev(i, { core: { deviceId: `sensor-${i}` } }));
    const outcome = await ingestEvents(req(JSON.stringify(events)), rules(), {
      publisher,
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    expect(outcome.accepted).toBe(5000);
    expect(publisher.packs.map((p) => p.partitionId).sort()).toEqual(['0', '1', '2', '3']);
    for (const pack of publisher.packs) {
      for (const line of gunzipSync(pack.body).toString().trimEnd().split('\n')) {
        const { core } = JSON.parse(line) as { core: { deviceId: string } };
        expect(partitionFor('t1', core.deviceId, ['0', '1', '2', '3'])).toBe(pack.partitionId);
      }
    }
  });

  it('reads gzip NDJSON', async () => {
    const publisher = memoryPublisher();
    const body = gzipSync([ev(0), ev(1)].map((e) => JSON.stringify(e)).join('\n'));
    const outcome = await ingestEvents(
      req(body, { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }),
      rules(),
      { publisher, clock, limits: defaultLimits, deadlineMs: 5000 },
    );
    expect(outcome.accepted).toBe(2);
  });

  it('drops blocked, opted-out and tenant-off events silently and counts them', async () => {
    const publisher = memoryPublisher();
    const body = JSON.stringify([ev(0, { name: 'debug.trace' }), ev(1), ev(2), ev(3)]);
    const outcome = await ingestEvents(
      req(body),
      rules({ optOuts: new Set([pseudonymizer.pseudonym('u1'), pseudonymizer.pseudonym('d0')]) }),
      { publisher, clock, limits: defaultLimits, deadlineMs: 5000 },
    );
    // d0 devices: e0 (blocked anyway), e2; u1 user
    expect(outcome).toEqual({ accepted: 1, rejected: 0, dropped: 3, errors: [] });
    expect(lines(publisher).map((l) => l.id)).toEqual(['e3']);

    const off = await ingestEvents(req(JSON.stringify([ev(0)])), rules({ optOut: true }), {
      publisher: memoryPublisher(),
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    expect(outcomeResponse(off)).toEqual({
      status: 202,
      jsonBody: { accepted: 0, rejected: 0, dropped: 1, errors: [] },
    });
  });

  it('applies sampling by event id: the same events are kept every time, and clients can tell which', async () => {
    const events = Array.from({ length: 400 }, (_, i) =>
      ev(i, { name: i % 2 ? 'view' : 'feature.used', data: i % 2 ? { contentId: 'c' } : undefined }),
    );
    const sampled = rules({ sampling: compileSampling({ view: 0.5, 'feature.*': 0 }) });
    const run = async () => {
      const publisher = memoryPublisher();
      const outcome = await ingestEvents(req(JSON.stringify(events)), sampled, {
        publisher,
        clock,
        limits: defaultLimits,
        deadlineMs: 5000,
      });
      return {
        outcome,
        ids: lines(publisher)
          .map((l) => l.id as string)
          .sort(),
      };
    };
    const first = await run();
    const expected = events
      .filter((e) => e.name === 'view' && sampleFraction(e.id) < 0.5)
      .map((e) => e.id)
      .sort();
    expect(first.ids).toEqual(expected);
    expect(first.outcome).toMatchObject({
      accepted: expected.length,
      rejected: 0,
      dropped: 400 - expected.length,
    });
    expect(expected.length).toBeGreaterThan(70);
    expect(expected.length).toBeLessThan(130);
    expect((await run()).ids).toEqual(first.ids);
  });

  it('answers 400 with the same shape when nothing is accepted', async () => {
    const outcome = await ingestEvents(req(JSON.stringify([{ name: 'x' }])), rules(), {
      publisher: memoryPublisher(),
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    expect(outcomeResponse(outcome)).toEqual({
      status: 400,
      jsonBody: {
        accepted: 0,
        rejected: 1,
        dropped: 0,
        errors: [expect.objectContaining({ index: 0, code: 'MISSING_FIELD' })],
      },
    });
  });

  it('assigns the same server id to the same id-less event', async () => {
    const publisher = memoryPublisher();
    const { id: _drop, ...noId } = ev(0);
    await ingestEvents(req(JSON.stringify([noId, noId])), rules(), {
      publisher,
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    const [a, b] = lines(publisher);
    expect(a?.id).toMatch(/^s[0-9a-f]{32}$/);
    expect(a?.id).toBe(b?.id);
  });

  it('rejects an event that is too large once serialised', async () => {
    const outcome = await ingestEvents(
      req(JSON.stringify([ev(0, { custom: { big: 'x'.repeat(400) } }), ev(1)])),
      rules(),
      {
        publisher: memoryPublisher(),
        clock,
        limits: { ...defaultLimits, maxEventBytes: 300 },
        deadlineMs: 5000,
      },
    );
    expect(outcome.errors).toEqual([expect.objectContaining({ index: 0, code: 'EVENT_TOO_LARGE' })]);
    expect(outcome.accepted).toBe(1);
  });

  it('turns a publish failure into 503 + Retry-After, accepting nothing', async () => {
    const failing: Publisher = {
      partitionIds: async () => ['0'],
      publish: async () => {
        throw new Error('ServiceBusy');
      },
    };
    const run = ingestEvents(req(JSON.stringify([ev(0)])), rules(), {
      publisher: failing,
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect(errorResponse(err, testLog())).toEqual({
      status: 503,
      headers: { 'retry-after': '5' },
      jsonBody: { code: 'PUBLISH_UNAVAILABLE', message: expect.stringContaining('resend') },
    });
  });

  it('answers 503 + Retry-After at the deadline when Event Hubs hangs, and aborts what was not sent', async () => {
    let signal: AbortSignal | undefined;
    const hanging: Publisher = {
      partitionIds: async () => ['0', '1'],
      publish: (_packs, options) => {
        signal = options?.abortSignal;
        return new Promise(() => {}); // an outage: never answers
      },
    };
    const err = await ingestEvents(req(JSON.stringify([ev(0), ev(1)])), rules(), {
      publisher: hanging,
      clock,
      limits: defaultLimits,
      deadlineMs: 100,
    }).catch((e: unknown) => e);
    expect(errorResponse(err, testLog())).toEqual({
      status: 503,
      headers: { 'retry-after': '5' },
      jsonBody: {
        code: 'PUBLISH_UNAVAILABLE',
        message:
          'Event Hubs did not take every event of this request within 100 ms (no answer within 100 ms); some may already be stored. ' +
          'Resend the whole request: event ids make the resend safe, and curate removes the duplicates by id',
      },
    });
    expect(signal?.aborted).toBe(true);
  });

  it('answers 503 at the deadline when the partition ids do not come', async () => {
    const hanging: Publisher = { partitionIds: () => new Promise(() => {}), publish: async () => {} };
    const err = await ingestEvents(req(JSON.stringify([ev(0)])), rules(), {
      publisher: hanging,
      clock,
      limits: defaultLimits,
      deadlineMs: 100,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      status: 503,
      code: 'PUBLISH_UNAVAILABLE',
      message: expect.stringContaining('nothing of this request was published'),
    });
  });

  it.each([
    ['an empty body', '', {}, 400, 'BODY_SHAPE'],
    [
      'a declared length over the cap',
      '[]',
      { 'content-length': String(2 * 1024 * 1024) },
      413,
      'BODY_TOO_LARGE',
    ],
    ['an unknown content type', '[]', { 'content-type': 'text/csv' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['an unknown encoding', '[]', { 'content-encoding': 'br' }, 415, 'UNSUPPORTED_ENCODING'],
    ['malformed JSON', '[{', {}, 400, 'BODY_MALFORMED'],
    ['an empty array', '[]', {}, 400, 'NO_EVENTS'],
    ['an empty events list', '{"events":[]}', {}, 400, 'NO_EVENTS'],
    ['blank NDJSON', '\n\r\n', { 'content-type': 'application/x-ndjson' }, 400, 'NO_EVENTS'],
  ])('%s -> %i %s', async (_l, body, headers, status, code) => {
    const err = await ingestEvents(req(body, headers), rules(), {
      publisher: memoryPublisher(),
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    }).catch((e: unknown) => e);
    expect(errorResponse(err, testLog())).toMatchObject({ status, jsonBody: { code } });
  });

  it.each([
    [
      'gzip sent without Content-Encoding',
      gzipSync(JSON.stringify([ev(0)])),
      {},
      'The body looks like gzip (it starts with the bytes 1f 8b) but was sent without "Content-Encoding: gzip": add that header',
    ],
    [
      'Content-Encoding: gzip on a plain body',
      JSON.stringify([ev(0)]),
      { 'content-encoding': 'gzip' },
      'The body was sent with "Content-Encoding: gzip" but could not be inflated (incorrect header check): compress it with gzip, or drop that header',
    ],
    [
      'binary that is not JSON',
      Buffer.from([0x01, 0x02, 0x5b, 0x7b]),
      {},
      'The body is not valid JSON: Unexpected token \'\\u0001\', "\\u0001\\u0002[{" is not valid JSON',
    ],
  ])('hints at the likely mistake: %s', async (_l, body, headers, message) => {
    const err = await ingestEvents(req(body, headers), rules(), {
      publisher: memoryPublisher(),
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    }).catch((e: unknown) => e);
    expect(errorResponse(err, testLog())).toEqual({
      status: 400,
      headers: {},
      jsonBody: { code: 'BODY_MALFORMED', message },
    });
  });

  it.each([
    [
      'epoch seconds',
      Math.floor(now / 1000) - 60,
      'TIME_TOO_OLD',
      `time ${Math.floor(now / 1000) - 60} looks like epoch seconds: send epoch milliseconds (seconds × 1000)`,
    ],
    [
      'epoch microseconds',
      (now - 60_000) * 1000,
      'TIME_IN_FUTURE',
      `time ${(now - 60_000) * 1000} looks like epoch microseconds: send epoch milliseconds (microseconds ÷ 1000)`,
    ],
    ['a really old time', now - 30 * 86_400_000, 'TIME_TOO_OLD', 'the event is too old to accept'],
  ])('says when a numeric time is in the wrong unit: %s', async (_l, time, code, hint) => {
    const outcome = await ingestEvents(req(JSON.stringify([ev(0, { time })])), rules(), {
      publisher: memoryPublisher(),
      clock,
      limits: defaultLimits,
      deadlineMs: 5000,
    });
    expect(outcome.errors).toEqual([
      {
        index: 0,
        code,
        path: 'time',
        message: expect.stringContaining(hint),
      },
    ]);
  });

  it('hides unexpected errors behind a 500 without details, and logs them with the invocation id', () => {
    const log = testLog();
    const err = new Error('secret detail');
    expect(errorResponse(err, log)).toEqual({
      status: 500,
      jsonBody: { code: 'INTERNAL', message: 'The request failed unexpectedly; retry later' },
    });
    expect(log.lines).toEqual([['error', 'invocation inv-1: 500 INTERNAL:', err]]);
  });
});
