import { describe, expect, it } from 'vitest';
import { envelopeName } from '../../../lib/ingest/eventName.js';
import { segmentEvent } from '../../../lib/segment/convert.js';
import { testPseudonymizer as p, publishedLines, testRules } from '../../helpers/published.js';

const receivedAt = Date.parse('2026-11-22T10:00:10.000Z');
const defaults = { sentAtMs: Date.parse('2026-11-22T10:00:05.000Z'), receivedAt };

describe('segmentEvent', () => {
  it("corrects the client's clock as Segment does: receivedAt − (sentAt − timestamp)", () => {
    // The client clock is 5 s behind: sent at its 10:00:05, received at 10:00:10.
    const m = { type: 'track', event: 'x', userId: 'u', timestamp: '2026-11-22T10:00:01.250Z' };
    expect(segmentEvent(m, undefined, defaults)).toEqual({
      value: { name: 'x', time: '2026-11-22T10:00:06.250Z', core: { deviceId: 'u', userId: 'u' } },
    });
    // A message's own sentAt wins over the batch's; without any, the timestamp stands.
    expect(segmentEvent({ ...m, sentAt: '2026-11-22T10:00:01.250Z' }, undefined, defaults)).toMatchObject({
      value: { time: '2026-11-22T10:00:10.000Z' },
    });
    expect(segmentEvent(m, undefined, { receivedAt, sentAtMs: Number.NaN })).toMatchObject({
      value: { time: '2026-11-22T10:00:01.250Z' },
    });
    // No timestamp: received now. One that is not ISO with a zone goes to validation as sent.
    expect(segmentEvent({ ...m, timestamp: undefined }, undefined, defaults)).toMatchObject({
      value: { time: '2026-11-22T10:00:10.000Z' },
    });
    expect(segmentEvent({ ...m, timestamp: 'yesterday' }, undefined, defaults)).toMatchObject({
      value: { time: 'yesterday' },
    });
  });

  it('maps ids, types, context and the batch context defaults', () => {
    const context = {
      os: { name: 'Android', version: '14' },
      locale: 'fr-FR',
      device: { id: 'batch-device' },
    };
    const group = { type: 'group', messageId: 'm1', anonymousId: 'a1', groupId: 42, traits: { size: 3 } };
    expect(segmentEvent(group, undefined, { ...defaults, context })).toEqual({
      value: {
        id: 'm1',
        name: 'group',
        time: '2026-11-22T10:00:10.000Z',
        core: { deviceId: 'batch-device', os: 'Android', osVersion: '14', locale: 'fr-FR' },
        data: { size: 3 },
        custom: { groupId: '42' },
      },
    });
    expect(segmentEvent({ previousId: 'old', userId: 'new' }, 'alias', defaults)).toEqual({
      value: {
        name: 'alias',
        time: '2026-11-22T10:00:10.000Z',
        core: { deviceId: 'new', userId: 'new' },
        custom: { previousId: 'old' },
      },
    });
    // A messageId over 64 characters becomes a digest of it: the same on every retry.
    const long = 'x'.repeat(100);
    const a = segmentEvent({ type: 'page', userId: 'u', messageId: long }, undefined, defaults);
    expect(a).toMatchObject({ value: { id: 'segment-09ecb6ebc8bcefc733f6f2ec44f791ab' } });
    expect(segmentEvent({ type: 'page', userId: 'u', messageId: long }, undefined, defaults)).toEqual(a);
  });

  it('refuses a message it cannot map, with what is missing', () => {
    expect(segmentEvent([], undefined, defaults)).toEqual({
      error: 'EVENT_MALFORMED',
      message: 'Each Segment message must be a JSON object',
    });
    expect(segmentEvent({ type: 'click', userId: 'u' }, undefined, defaults)).toEqual({
      error: 'EVENT_MALFORMED',
      message: 'type must be one of track, identify, page, screen, group, alias',
    });
    expect(segmentEvent({ type: 'track', event: 'x' }, undefined, defaults)).toEqual({
      error: 'EVENT_MALFORMED',
      message: 'A Segment message needs a userId or an anonymousId',
    });
    expect(segmentEvent({ type: 'track', userId: 'u' }, undefined, defaults)).toEqual({
      error: 'EVENT_MALFORMED',
      message: 'A track message needs its event name in "event"',
    });
  });
});

describe('envelopeName', () => {
  it('keeps valid names and makes others valid', () => {
    expect(envelopeName('feature.used')).toBe('feature.used');
    expect(envelopeName('Order Completed')).toBe('Order_Completed');
    expect(envelopeName('browser.page/view')).toBe('browser.page_view');
    expect(envelopeName('1st  launch!')).toBe('e_1st_launch_');
    expect(envelopeName('')).toBe('e_');
    expect(envelopeName(`a ${'b'.repeat(200)}`)).toHaveLength(128);
  });
});

describe('Segment messages through ingest', () => {
  it("pseudonymises an alias call's previousId as it does a userId", async () => {
    const item = segmentEvent({ previousId: 'old-id', userId: 'new-id', messageId: 'm1' }, 'alias', defaults);
    const { outcome, lines } = await publishedLines([item], testRules(), receivedAt);
    expect(outcome).toMatchObject({ accepted: 1 });
    expect(lines[0]).not.toContain('old-id');
    expect(JSON.parse(lines[0]!)).toMatchObject({
      core: { deviceId: p.pseudonym('new-id'), userId: p.pseudonym('new-id') },
      custom: { previousId: p.pseudonym('old-id') },
    });
  });
});
