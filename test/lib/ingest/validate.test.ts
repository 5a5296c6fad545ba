import { describe, expect, it } from 'vitest';
import { MAX_EVENT_AGE_MS, MAX_EVENT_LEAD_MS } from '../../../lib/ingest/eventTime.js';
import { validateEvent } from '../../../lib/ingest/validate.js';

const now = Date.parse('2026-11-22T10:00:00.000Z');
const opts = { now, maxDepth: 16 };

function event(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'e-1',
    name: 'feature.used',
    time: '2026-11-22T09:59:00.000Z',
    core: { deviceId: 'd-1', userId: 'u-1' },
    data: { feature: 'search' },
    custom: { screen: 'home', n: 1, ok: true },
    ...overrides,
  };
}

function nest(depth: number): unknown {
  let node: unknown = 1;
  for (let i = 0; i < depth; i++) node = { a: node };
  return node;
}

describe('validateEvent accepts', () => {
  it.each([
    ['a minimal event', { name: 'x', time: now, core: { deviceId: 'd' } }],
    ['a full event', event()],
    ['epoch milliseconds', event({ time: now - 1000 })],
    ['an offset time', event({ time: '2026-11-22T11:59:00+02:00' })],
    ['a time without milliseconds', event({ time: '2026-11-22T09:59:00Z' })],
    ['exactly 7 days old', event({ time: now - MAX_EVENT_AGE_MS })],
    ['exactly 1 hour ahead', event({ time: now + MAX_EVENT_LEAD_MS })],
    ['a view', event({ name: 'view', data: { contentId: 'c', accountId: 'a' } })],
    [
      'an alarm',
      event({
        name: 'alarm',
        data: {
          stationId: 's',
          datapointId: 'p',
          alarmId: 'a',
          value: 1.5,
          valueThreshold: 1,
          isActive: true,
        },
      }),
    ],
    ['a fault', event({ name: 'fault', data: { kind: 'TypeError', message: 'boom', fatal: false } })],
    ['a session start', event({ name: 'session.start', data: { sessionId: 's' } })],
    ['a session end', event({ name: 'session.end', data: { sessionId: 's' } })],
    ['data nested to the depth limit', event({ data: nest(15) })],
    ['all user kinds', event({ core: { deviceId: 'd', userKind: 'test' } })],
  ])('%s', (_label, value) => {
    const result = validateEvent(value, opts);
    expect(result.ok ? 'ok' : result.error).toBe('ok');
  });

  it('normalises the time to ISO UTC', () => {
    const a = validateEvent(event({ time: '2026-11-22T11:59:00+02:00' }), opts);
    const b = validateEvent(event({ time: now - 60_000 }), opts);
    const c = validateEvent(event({ time: '2026-11-22T04:29:00.123456789-05:30' }), opts);
    expect(a.ok && a.event.time).toBe('2026-11-22T09:59:00.000Z');
    expect(b.ok && b.event.time).toBe('2026-11-22T09:59:00.000Z');
    expect(c.ok && c.event.time).toBe('2026-11-22T09:59:00.123Z');
  });

  it('drops __proto__-style keys from custom and free data, harmlessly', () => {
    const value = JSON.parse(
      '{"name":"x","time":1795341540000,"core":{"deviceId":"d"},"custom":{"__proto__":{"polluted":true},"a":1},"data":{"nested":{"__proto__":{"polluted":true},"constructor":{"prototype":{"p":1}}}}}',
    );
    const result = validateEvent(value, opts);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event.custom).toEqual({ a: 1 });
    expect(result.event.data).toEqual({ nested: {} });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('validateEvent rejects', () => {
  it.each([
    ['a non-object', 42, 'EVENT_NOT_OBJECT', ''],
    ['an array', [], 'EVENT_NOT_OBJECT', ''],
    ['null', null, 'EVENT_NOT_OBJECT', ''],
    ['a missing name', event({ name: undefined }), 'MISSING_FIELD', 'name'],
    ['a bad name', event({ name: '1abc' }), 'INVALID_NAME', 'name'],
    ['a name with spaces', event({ name: 'a b' }), 'INVALID_NAME', 'name'],
    ['a 129-char name', event({ name: `a${'b'.repeat(128)}` }), 'INVALID_NAME', 'name'],
    ['an empty id', event({ id: '' }), 'INVALID_FIELD', 'id'],
    ['a 65-char id', event({ id: 'x'.repeat(65) }), 'INVALID_FIELD', 'id'],
    ['a numeric id', event({ id: 5 }), 'INVALID_FIELD', 'id'],
    ['a missing time', event({ time: undefined }), 'MISSING_FIELD', 'time'],
    ['a zone-less time', event({ time: '2026-11-22T09:59:00' }), 'TIME_INVALID', 'time'],
    ['a date-only time', event({ time: '2026-11-22' }), 'TIME_INVALID', 'time'],
    ['a fractional epoch', event({ time: now + 0.5 }), 'TIME_INVALID', 'time'],
    ['a negative epoch', event({ time: -1 }), 'TIME_INVALID', 'time'],
    ['an impossible date', event({ time: '2026-13-40T00:00:00Z' }), 'TIME_INVALID', 'time'],
    ['the 31st of a 30-day month', event({ time: '2026-11-31T09:00:00Z' }), 'TIME_INVALID', 'time'],
    ['29 February of a common year', event({ time: '2026-02-29T10:00:00.000Z' }), 'TIME_INVALID', 'time'],
    ['hour 24', event({ time: '2026-11-21T24:00:00Z' }), 'TIME_INVALID', 'time'],
    ['minute 60', event({ time: '2026-11-22T09:60:00+00:00' }), 'TIME_INVALID', 'time'],
    ['second 60', event({ time: '2026-11-22T09:59:60Z' }), 'TIME_INVALID', 'time'],
    ['a zone of +24:00', event({ time: '2026-11-22T09:59:00+24:00' }), 'TIME_INVALID', 'time'],
    ['an event older than 7 days', event({ time: now - MAX_EVENT_AGE_MS - 1 }), 'TIME_TOO_OLD', 'time'],
    ['an event more than 1 h ahead', event({ time: now + MAX_EVENT_LEAD_MS + 1 }), 'TIME_IN_FUTURE', 'time'],
    ['a missing core', event({ core: undefined }), 'MISSING_FIELD', 'core'],
    ['a missing deviceId', event({ core: { userId: 'u' } }), 'MISSING_FIELD', 'core.deviceId'],
    ['an empty deviceId', event({ core: { deviceId: '' } }), 'INVALID_FIELD', 'core.deviceId'],
    ['a numeric userId', event({ core: { deviceId: 'd', userId: 7 } }), 'INVALID_FIELD', 'core.userId'],
    [
      'an unknown core field',
      event({ core: { deviceId: 'd', email: 'a@b' } }),
      'UNKNOWN_FIELD',
      'core.email',
    ],
    [
      'a bad userKind',
      event({ core: { deviceId: 'd', userKind: 'admin' } }),
      'INVALID_FIELD',
      'core.userKind',
    ],
    ['a nested custom value', event({ custom: { a: { b: 1 } } }), 'INVALID_FIELD', 'custom.a'],
    ['a null custom value', event({ custom: { a: null } }), 'INVALID_FIELD', 'custom.a'],
    [
      'more than 64 custom keys',
      event({ custom: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])) }),
      'INVALID_FIELD',
      'custom',
    ],
    ['an array as data', event({ data: [1] }), 'INVALID_FIELD', 'data'],
    ['a view without contentId', event({ name: 'view', data: {} }), 'MISSING_FIELD', 'data.contentId'],
    ['a view without data', event({ name: 'view', data: undefined }), 'MISSING_FIELD', 'data'],
    [
      'a view with an extra field',
      event({ name: 'view', data: { contentId: 'c', x: 1 } }),
      'UNKNOWN_FIELD',
      'data.x',
    ],
    [
      'an alarm with a string value',
      event({
        name: 'alarm',
        data: {
          stationId: 's',
          datapointId: 'p',
          alarmId: 'a',
          value: '1',
          valueThreshold: 1,
          isActive: true,
        },
      }),
      'INVALID_DATA',
      'data.value',
    ],
    [
      'a fault without fatal',
      event({ name: 'fault', data: { kind: 'k', message: 'm' } }),
      'MISSING_FIELD',
      'data.fatal',
    ],
    [
      'a session.start without sessionId',
      event({ name: 'session.start', data: {} }),
      'MISSING_FIELD',
      'data.sessionId',
    ],
    ['data nested too deep', event({ data: nest(16) }), 'EVENT_TOO_DEEP', 'data'],
  ])('%s', (_label, value, code, path) => {
    const result = validateEvent(value, opts);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect({ code: result.error.code, path: result.error.path }).toEqual({ code, path });
    expect(result.error.message.length).toBeGreaterThan(5);
  });

  it.each([
    [
      { dat: { feature: 'x' } },
      'dat',
      'Unknown field dat: did you mean data? unknown fields are refused so that nothing is dropped silently; put extra values in custom',
    ],
    [
      { tiem: 1 },
      'tiem',
      'Unknown field tiem: did you mean time? unknown fields are refused so that nothing is dropped silently; put extra values in custom',
    ],
    [
      { colour: 'red' },
      'colour',
      'Unknown field colour: unknown fields are refused so that nothing is dropped silently; put extra values in custom',
    ],
    [
      { core: { deviceId: 'd', userID: 'u' } },
      'core.userID',
      'Unknown field core.userID: did you mean userId? unknown fields are refused so that nothing is dropped silently; put extra values in custom',
    ],
  ])('refuses the unknown field in %o, naming it and the field it likely meant', (extra, path, message) => {
    const result = validateEvent(event(extra), opts);
    expect(result).toEqual({ ok: false, error: { code: 'UNKNOWN_FIELD', path, message } });
  });

  it('suggests the data model field a typo meant', () => {
    const result = validateEvent(event({ name: 'view', data: { contentID: 'c' } }), opts);
    expect(!result.ok && result.error).toEqual({
      code: 'UNKNOWN_FIELD',
      path: 'data.contentID',
      message:
        'Unknown field data.contentID: did you mean contentId? unknown fields are refused so that nothing is dropped silently',
    });
  });

  it('explains a bad time in words a person can act on', () => {
    const result = validateEvent(event({ time: 'yesterday' }), opts);
    expect(!result.ok && result.error.message).toBe(
      'time: expected ISO-8601 with a zone (e.g. 2026-11-22T10:00:00.123Z) or epoch milliseconds',
    );
  });
});
