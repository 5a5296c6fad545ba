/**
 * The start position of a receiver, from the `apache.org:selector-filter:string` source filter the SDK
 * sends, e.g. `amqp.annotation.x-opt-offset > '-1'`.
 */

export type StartPosition =
  | { kind: 'offset'; value: number; inclusive: boolean }
  | { kind: 'latest' }
  | { kind: 'sequenceNumber'; value: number; inclusive: boolean }
  | { kind: 'enqueuedTime'; value: number; inclusive: boolean };

export const selectorFilterKey = 'apache.org:selector-filter:string';

export class FilterError extends Error {
  override name = 'FilterError';
}

const pattern =
  /^\s*amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>)\s*'([^']*)'\s*$/;

export function parseSelector(selector: string): StartPosition {
  const m = pattern.exec(selector);
  if (!m) throw new FilterError(`Unsupported selector filter: ${selector}`);
  const [, field, op, raw] = m as unknown as [string, string, string, string];
  const inclusive = op === '>=';
  if (field === 'x-opt-offset' && raw === '@latest') return { kind: 'latest' };
  const value = Number(raw);
  if (!Number.isFinite(value))
    throw new FilterError(`Invalid value '${raw}' in selector filter: ${selector}`);
  if (field === 'x-opt-offset') return { kind: 'offset', value, inclusive };
  if (field === 'x-opt-sequence-number') return { kind: 'sequenceNumber', value, inclusive };
  return { kind: 'enqueuedTime', value, inclusive };
}

/** Reads the start position from a link source's filter set (absent filter = from the start). */
export function startPositionOf(filter: unknown): StartPosition {
  if (!filter || typeof filter !== 'object') return { kind: 'offset', value: -1, inclusive: false };
  const entry = (filter as Record<string, unknown>)[selectorFilterKey];
  // The filter is a described value; rhea exposes the described value as `value`.
  const selector =
    typeof entry === 'string'
      ? entry
      : entry && typeof entry === 'object' && 'value' in entry
        ? (entry as { value: unknown }).value
        : undefined;
  if (typeof selector !== 'string') throw new FilterError('The selector filter holds no string');
  return parseSelector(selector);
}
