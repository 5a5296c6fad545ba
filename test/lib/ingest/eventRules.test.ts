import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compileBlocklist,
  compileEventRules,
  compileSampling,
  sampleFraction,
} from '../../../lib/ingest/eventRules.js';
import { EVENT_RULE_PATTERN } from '../../../lib/schema/index.js';

describe('blocklist', () => {
  const list = compileBlocklist(['debug.*', 'noise', 'a.b.*']);
  it.each([
    ['noise', true],
    ['noise.more', false],
    ['debug.trace', true],
    ['debug.x.y', true],
    ['debug', false],
    ['debugger.x', false],
    ['a.b.c', true],
    ['a.bc', false],
    ['view', false],
  ])('%s blocked: %s', (name, blocked) => {
    expect(list.blocks(name)).toBe(blocked);
    expect(list.blocks(name)).toBe(blocked); // memoised answer is the same
  });

  it('* blocks everything; an empty list nothing', () => {
    expect(compileBlocklist(['*']).blocks('view')).toBe(true);
    expect(compileBlocklist([]).blocks('view')).toBe(false);
  });

  it.each([
    ['view', true],
    ['debug.*', true],
    ['*', true],
    ['de*bug', false],
    ['.*', false],
    ['', false],
  ])('pattern %s valid: %s', (p, ok) => expect(EVENT_RULE_PATTERN.test(p)).toBe(ok));
});

describe('event rules', () => {
  it('the most specific rule wins: exact name, then the longest prefix, then *', () => {
    const lookup = compileEventRules([
      ['*', 'all'],
      ['a.*', 'a'],
      ['a.b.*', 'ab'],
      ['a.b.c', 'exact'],
    ]);
    expect(['a.b.c', 'a.b.d', 'a.x', 'b', 'a'].map(lookup)).toEqual(['exact', 'ab', 'a', 'all', 'all']);
    expect(compileEventRules([['x', 1]])('y')).toBeUndefined();
  });
});

describe('sampling', () => {
  it('keeps an event by its id alone: the first 4 bytes of SHA-256(id) / 2^32 below the rate', () => {
    const fraction = (id: string) => createHash('sha256').update(id).digest().readUInt32BE(0) / 2 ** 32;
    expect(sampleFraction('event-1')).toBe(fraction('event-1'));
    const sampling = compileSampling({ view: 0.25, 'debug.*': 0 });
    expect(sampling.rateFor('view')).toBe(0.25);
    expect(sampling.rateFor('debug.trace')).toBe(0);
    expect(sampling.rateFor('other')).toBe(1);
    const ids = Array.from({ length: 4000 }, (_, i) => `id-${i}`);
    const kept = ids.filter((id) => sampling.keeps(id, 0.25));
    expect(kept).toEqual(ids.filter((id) => fraction(id) < 0.25));
    expect(kept.length).toBeGreaterThan(900);
    expect(kept.length).toBeLessThan(1100);
    expect(ids.some((id) => sampling.keeps(id, 0))).toBe(false);
    expect(ids.every((id) => sampling.keeps(id, 1))).toBe(true);
  });
});
