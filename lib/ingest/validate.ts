import { fail, type Validation } from './event.js';
import { checkTime } from './eventTime.js';
import { fastCheck, missingRequired, nameInfo } from './fastCheck.js';
import { isPlainObject, stripUnsafe, withinDepth } from './structure.js';
import { zodCheck } from './zodCheck.js';

export type { Validation, ValidEvent } from './event.js';

export interface ValidateOptions {
  /** The server's clock for this request, epoch ms (injected so tests pin it). */
  now: number;
  maxDepth: number;
}

/**
 * Validates one parsed event. The zod schemas in lib/schema are the single source of truth: a
 * hand-written check accepts the common valid case quickly (it only ever accepts what zod
 * accepts, which a property test checks), and anything it does not accept goes through zod, whose
 * verdict stands and whose first issue becomes the error.
 */
export function validateEvent(value: unknown, options: ValidateOptions): Validation {
  if (!isPlainObject(value)) {
    return fail('EVENT_NOT_OBJECT', '', 'Each event must be a JSON object');
  }
  // Structural checks zod does not do, before zod sees the value.
  const data = value.data;
  const info = typeof value.name === 'string' ? nameInfo(value.name) : undefined;
  const model = info?.model;
  if (isPlainObject(data) && !model && !withinDepth(data, 2, options.maxDepth)) {
    return fail('EVENT_TOO_DEEP', 'data', `The event nests deeper than ${options.maxDepth} levels`);
  }
  // fastCheck strips unsafe custom keys as it checks them; zod sees them stripped too.
  let event = info?.valid ? fastCheck(value, info) : undefined;
  if (!event) {
    const missing = missingRequired(value);
    if (missing) return missing;
    if (isPlainObject(value.custom)) stripUnsafe(value.custom);
    const checked = zodCheck(value, model);
    if (!checked.ok) return checked;
    event = checked.event;
  }
  return checkTime(event, value.time as string | number, options.now);
}
