import { describe, expect, it } from 'vitest';
import { compileBlocklist } from '../../../lib/ingest/blocklist.js';
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
