import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
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
  if (!envelope.success) return fromIssue(firstIssue(envelope.error), v, 'envelope');
  let data = envelope.data.data;
  if (model) {
    const parsed = model.safeParse(v.data);
    if (!parsed.success) return fromIssue(firstIssue(parsed.error), v.data, 'data', model);
    data = parsed.data as Record<string, unknown>;
  }
  const e = envelope.data;
  return {
    ok: true,
    event: { id: e.id, name: e.name, timeMs: Number.NaN, time: '', core: e.core, data, custom: e.custom },
  };
}

/**
 * The issue to report: an unknown field first, because a typo (`contentID`) also makes its
 * intended field missing, and "did you mean contentId?" says what to fix.
 */
function firstIssue(error: z.ZodError): z.core.$ZodIssue {
  return error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
}

function fromIssue(
  issue: z.core.$ZodIssue,
  input: unknown,
  where: 'envelope' | 'data',
  model?: z.ZodType,
): Validation {
  const segments = where === 'data' ? ['data', ...issue.path.map(String)] : issue.path.map(String);
  const path = segments.join('.');
  const at = path === '' ? 'event' : path;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const known = knownKeys(where === 'data' ? model : EnvelopeSchema, issue.path);
    const hint = suggestion(key, known);
    return fail(
      'UNKNOWN_FIELD',
      path ? `${path}.${key}` : key,
      `Unknown field ${path ? `${path}.${key}` : key}: ${hint ? `did you mean ${hint}? ` : ''}` +
        `unknown fields are refused so that nothing is dropped silently${where === 'envelope' ? '; put extra values in custom' : ''}`,
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

/** The field names an object schema knows at `path` (through `.shape`, zod's public API). */
function knownKeys(schema: z.ZodType | undefined, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const key of path) {
    if (node instanceof z.ZodOptional) node = node.unwrap();
    node = node instanceof z.ZodObject ? (node.shape as Record<string, unknown>)[String(key)] : undefined;
  }
  if (node instanceof z.ZodOptional) node = node.unwrap();
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

/** The known name a typo most likely meant: within 1 edit (2 for names of 4 or more characters). */
export function suggestion(key: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const best = closest(key, known as string[]);
  const d = distance(key.toLowerCase(), best.toLowerCase());
  return d <= (key.length >= 4 ? 2 : 1) ? best : undefined;
}
