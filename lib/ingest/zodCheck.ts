import type { z } from 'zod';
import { EnvelopeSchema } from '../schema/index.js';
import type { EventErrorCode } from './errors.js';
import { fail, type Validation } from './event.js';
import { isPlainObject } from './structure.js';

/**
 * The slow path and the final word: zod checks the envelope and the data model, and its first
 * issue becomes the error, worded for a person.
 */
export function zodCheck(v: Record<string, unknown>, model: z.ZodType | undefined): Validation {
  const envelope = EnvelopeSchema.safeParse(v);
  if (!envelope.success) return fromIssue(envelope.error.issues[0]!, v, 'envelope');
  let data = envelope.data.data;
  if (model) {
    const parsed = model.safeParse(v.data);
    if (!parsed.success) return fromIssue(parsed.error.issues[0]!, v.data, 'data');
    data = parsed.data as Record<string, unknown>;
  }
  const e = envelope.data;
  return {
    ok: true,
    event: { id: e.id, name: e.name, timeMs: Number.NaN, time: '', core: e.core, data, custom: e.custom },
  };
}

function fromIssue(issue: z.core.$ZodIssue, input: unknown, where: 'envelope' | 'data'): Validation {
  const segments = where === 'data' ? ['data', ...issue.path.map(String)] : issue.path.map(String);
  const path = segments.join('.');
  const at = path === '' ? 'event' : path;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (path ? `${path}.${k}` : k));
    return fail(
      'UNKNOWN_FIELD',
      keys[0]!,
      `Unknown field ${keys.join(', ')}: remove it or move it to custom`,
    );
  }
  const given = lookup(input, issue.path);
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && given === undefined) {
    return fail('MISSING_FIELD', path, `${at} is required`);
  }
  const head = segments[0];
  const code: EventErrorCode =
    where === 'data'
      ? 'INVALID_DATA'
      : head === 'name'
        ? 'INVALID_NAME'
        : head === 'time'
          ? 'TIME_INVALID'
          : 'INVALID_FIELD';
  const detail =
    code === 'TIME_INVALID'
      ? 'expected ISO-8601 with a zone (e.g. 2026-11-22T10:00:00.123Z) or epoch milliseconds'
      : issue.message;
  return fail(code, path, `${at}: ${detail}`);
}

function lookup(input: unknown, path: readonly PropertyKey[]): unknown {
  let node = input;
  for (const key of path) {
    if (!isPlainObject(node) && !Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, key)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
