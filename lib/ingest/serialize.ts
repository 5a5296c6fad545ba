import { MAX_IDENTIFIER_LENGTH } from '../schema/index.js';
import type { Pseudonymizer } from './privacy.js';

/**
 * JSON text for validated events, byte-identical to `JSON.stringify` on values that came out of
 * `JSON.parse` (plain objects, arrays, finite numbers, strings, booleans, null), but built by
 * string concatenation: on Node 20 `JSON.stringify` of a small event object costs ~3 µs, mostly
 * re-scanning every string for characters to escape.
 */

/**
 * Whether a decoded body contains no backslash. JSON text can only express `"`, `\`, control
 * characters and lone surrogates through a backslash escape (raw ones are invalid, and UTF-8
 * decoding never yields lone surrogates), and 0x5C never occurs inside a multi-byte UTF-8
 * sequence: so when this holds, no string parsed from the body needs escaping, and `"` + s + `"`
 * is exactly what `JSON.stringify(s)` prints. One native scan per request.
 */
export function escapeFree(body: Buffer): boolean {
  return body.indexOf(0x5c) === -1;
}

/** Whether `JSON.stringify(s)` would escape anything in `s`. */
function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/** `JSON.stringify(s)`; `plain` when the string is known to need no escaping (see escapeFree). */
export function quote(s: string, plain: boolean): string {
  return plain || !needsEscape(s) ? `"${s}"` : JSON.stringify(s);
}

/** `JSON.stringify(value)` for a value from `JSON.parse`; undefined where JSON.stringify omits it. */
export function jsonValue(value: unknown, plain: boolean): string | undefined {
  switch (typeof value) {
    case 'string':
      return quote(value, plain);
    case 'number':
      // Number#toString is the algorithm JSON.stringify uses for finite numbers.
      return Number.isFinite(value) ? `${value}` : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += jsonValue(value[i], plain) ?? 'null';
        }
        return `${out}]`;
      }
      // A toJSON method (a Date, say) cannot come from JSON.parse, but stay exact if one appears.
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(value);
      return jsonObject(value as Record<string, unknown>, plain, undefined, undefined);
    default:
      return undefined;
  }
}

/** What serialising the sensitive fields of an event found, for its size and identifier checks. */
export interface SensitiveScan {
  /** Bytes the pseudonymised values had as sent, less the bytes of their pseudonyms (may be < 0). */
  hidden: number;
  /** The first sensitive field whose value is longer than MAX_IDENTIFIER_LENGTH. */
  tooLong: string | undefined;
}

const PSEUDONYM_JSON_BYTES = 34; // 32 hex characters and the quotes

/**
 * `JSON.stringify` of an object whose top-level fields named in `sensitive` are replaced by their
 * pseudonym (of the string, or of the JSON of any other non-null value) when `p` is given, without
 * copying the object. With a `scan`, sensitive values are measured: one over the identifier cap
 * stops the serialisation (the event is refused, and it is never hashed or cached).
 */
export function jsonObject(
  fields: Record<string, unknown>,
  plain: boolean,
  sensitive: ReadonlySet<string> | undefined,
  p: Pseudonymizer | undefined,
  scan?: SensitiveScan,
): string {
  let out = '{';
  // Object.keys, not for-in: exactly the own enumerable keys, in the order JSON.stringify uses.
  const keys = Object.keys(fields);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = fields[key];
    let text: string | undefined;
    if (value !== undefined && value !== null && sensitive?.has(key) && (p || scan)) {
      const original = typeof value === 'string' ? value : JSON.stringify(value);
      if (scan && original.length > MAX_IDENTIFIER_LENGTH) {
        scan.tooLong = key;
        return '{}';
      }
      if (p) {
        // Pseudonyms are hex: never escaped.
        text = `"${p.pseudonym(original)}"`;
        if (scan)
          scan.hidden +=
            Buffer.byteLength(original) + (typeof value === 'string' ? 2 : 0) - PSEUDONYM_JSON_BYTES;
      } else text = jsonValue(value, plain)!;
    } else {
      text = jsonValue(value, plain);
      if (text === undefined) continue;
    }
    if (out.length > 1) out += ',';
    out += `${quote(key, plain)}:${text}`;
  }
  return `${out}}`;
}
