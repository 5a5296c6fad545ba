import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { Core, TelemetryEvent } from './types.js';

/** The server's pseudonym format: HMAC-SHA-256, hex, the first 32 characters. */
export const PSEUDONYM_LENGTH = 32;
const MEMO_LIMIT = 10_000;

/**
 * Client-side pseudonyms of the fields an app lists, for external users, before events are queued
 * (so they are never spooled, kept for a retry or sent in the clear). The format is the server's,
 * but the key is the app's (`hashKey`): the server's per-tenant key is a server secret and must
 * never ship inside an app. A keyed hash, not plain SHA-256, because user ids and e-mails are
 * guessable: anyone could hash a list of candidates and match them. The server then pseudonymises
 * deviceId, userId and sessionId again under its own key, as it does for every external user.
 *
 * @noble/hashes instead of WebCrypto: it is synchronous (so `track` stays synchronous and the
 * event is final when queued) and works where `crypto.subtle` does not (plain-http pages).
 */
export class FieldHasher {
  private readonly fields: ReadonlySet<string>;
  private readonly memo = new Map<string, string>();
  private readonly key: Uint8Array;

  constructor(fields: readonly string[], key: string | Uint8Array) {
    this.fields = new Set(fields);
    this.key = typeof key === 'string' ? utf8ToBytes(key) : key;
  }

  pseudonym(value: string): string {
    let out = this.memo.get(value);
    if (out === undefined) {
      out = bytesToHex(hmac(sha256, this.key, utf8ToBytes(value))).slice(0, PSEUDONYM_LENGTH);
      if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
      this.memo.set(value, out);
    }
    return out;
  }

  /** Hashes listed fields unless the user is known to be internal or a test user. */
  apply(event: TelemetryEvent): TelemetryEvent {
    const kind = event.core.userKind;
    if (this.fields.size === 0 || kind === 'internal' || kind === 'test') return event;
    const core = this.object(event.core as unknown as Record<string, unknown>) as unknown as Core;
    const data = event.data && this.object(event.data);
    const custom = event.custom && (this.object(event.custom) as TelemetryEvent['custom']);
    return { ...event, core, ...(data && { data }), ...(custom && { custom }) };
  }

  /** A copy with the listed top-level fields hashed (non-strings as their JSON, as the server does). */
  private object(source: Record<string, unknown>): Record<string, unknown> {
    let out: Record<string, unknown> | undefined;
    for (const field of this.fields) {
      if (field === 'userKind' || !Object.hasOwn(source, field)) continue;
      const value = source[field];
      if (value === undefined || value === null) continue;
      out ??= { ...source };
      out[field] = this.pseudonym(typeof value === 'string' ? value : JSON.stringify(value));
    }
    return out ?? source;
  }
}

/** The event's point in [0, 1) that sampling compares with the rate: the server's rule. */
export function sampleFraction(id: string): number {
  const d = sha256(utf8ToBytes(id));
  return (((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0) / 2 ** 32;
}
