import type { z } from 'zod';
import { badRequest } from './errors.js';

/** The parameters a handler reads from the query string, parsed by its schema; a bad one is a 400. */
export function parseQuery<S extends z.ZodType>(
  schema: S,
  query: URLSearchParams,
  codes: Record<string, string>,
  fallback = 'PARAMETER_INVALID',
): z.output<S> {
  const values: Record<string, string> = {};
  for (const [k, v] of query) values[k] = v;
  const parsed = schema.safeParse(values);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? '');
  throw badRequest(codes[field] ?? fallback, `${field || 'query'}: ${issue.message}`);
}

/** [from, to) from optional bounds: `to` defaults to now, `from` to `span` before `to`. */
export function timeRange(
  q: { from?: number; to?: number },
  now: number,
  span: number,
  maxMs: number,
): { from: number; to: number } {
  const to = q.to ?? now;
  const from = q.from ?? to - span;
  if (!(from < to)) throw badRequest('RANGE_INVALID', '`from` must be before `to`');
  if (to - from > maxMs) {
    throw badRequest(
      'RANGE_TOO_LONG',
      `The range is ${formatSpan(to - from)}; at most ${formatSpan(maxMs)} per call: narrow from/to`,
    );
  }
  return { from, to };
}

function formatSpan(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48 ? `${Math.round(hours / 24)} days` : `${Math.round(hours * 10) / 10} hours`;
}
