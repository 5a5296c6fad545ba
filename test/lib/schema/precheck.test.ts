import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compilePrecheck, dataModels } from '../../../lib/schema/index.js';

describe('compilePrecheck (from zod.toJSONSchema)', () => {
  it.each(Object.keys(dataModels))('compiles the built-in model %s', (name) => {
    expect(compilePrecheck(dataModels[name as keyof typeof dataModels])).toBeTypeOf('function');
  });

  it('accepts only what the schema accepts, for a view', () => {
    const check = compilePrecheck(dataModels.view)!;
    expect(check({ contentId: 'c' })).toBe(true);
    expect(check({ contentId: 'c', accountId: 'a' })).toBe(true);
    expect(check({})).toBe(false);
    expect(check({ contentId: '' })).toBe(false);
    expect(check({ contentId: 'c', extra: 1 })).toBe(false);
    expect(check({ contentId: 'x'.repeat(257) })).toBe(false);
    expect(check([])).toBe(false);
  });

  it('checks a stripping z.object as strict: an extra key is "not sure", so zod decides', () => {
    const check = compilePrecheck(z.object({ a: z.string() }))!;
    expect(check({ a: 'x' })).toBe(true);
    expect(check({ a: 'x', b: 1 })).toBe(false);
  });

  it.each([
    ['a pattern', z.strictObject({ a: z.string().regex(/x/) })],
    ['an integer', z.strictObject({ a: z.number().int() })],
    ['a passthrough object', z.looseObject({ a: z.string() })],
    ['a nested array', z.strictObject({ a: z.array(z.string()) })],
    ['a transform', z.strictObject({ a: z.string().transform((s) => s.length) })],
  ])('gives up (zod decides) on %s', (_label, schema) => {
    expect(compilePrecheck(schema as z.ZodType)).toBeUndefined();
  });
});
