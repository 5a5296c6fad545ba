import { EVENT_NAME_PATTERN } from '../schema/index.js';

/** The longest event name the envelope takes (EVENT_NAME_PATTERN). */
const MAX_NAME_LENGTH = 128;

/**
 * The envelope name for an event name another protocol allows (Segment's "Order Completed", an
 * OpenTelemetry `event.name` such as `browser.page/view`): every run of characters the envelope
 * does not allow becomes `_`, a name that does not start with a letter gets an `e_` prefix, and
 * the result is cut at 128 characters. A name that is already valid is returned as it is, so
 * blocklist and sampling rules name it as sent.
 */
export function envelopeName(name: string): string {
  if (EVENT_NAME_PATTERN.test(name)) return name;
  let out = name.replace(/[^A-Za-z0-9_.-]+/g, '_');
  if (!/^[A-Za-z]/.test(out)) out = `e_${out}`;
  return out.slice(0, MAX_NAME_LENGTH);
}
