import { createHmac } from 'node:crypto';
import type { Core, UserKind } from '../schema/index.js';
import type { PrivacyPolicy } from '../tenants/policy.js';

/**
 * Fields pseudonymised for every tenant (the seed rules). `previousId` is the former user or
 * anonymous id a Segment `alias` call carries: an identifier like the others.
 */
export const seedSensitiveFields = ['userId', 'deviceId', 'sessionId', 'previousId'] as const;

export const PSEUDONYM_LENGTH = 32;

/**
 * The byte budget of the pseudonym memos of every tenant in the process: a flood of distinct or
 * long values (values are capped at MAX_IDENTIFIER_LENGTH) only evicts the oldest entries, in
 * whichever tenant's memo they are. Each Pseudonymizer keeps its own Map keyed by the value (a
 * lookup hashes the value itself, no key to build); the budget records insertion order.
 */
export class PseudonymCache {
  private maps: Map<string, string>[] = [];
  private keys: string[] = [];
  private head = 0;
  private used = 0;

  constructor(readonly maxBytes: number) {}

  /** Bytes held: UTF-16 keys and values plus a per-entry overhead (an estimate of V8's). */
  get bytes(): number {
    return this.used;
  }

  add(map: Map<string, string>, key: string, value: string): void {
    map.set(key, value);
    this.used += entryBytes(key, value);
    this.maps.push(map);
    this.keys.push(key);
    while (this.used > this.maxBytes && this.head < this.keys.length) {
      const oldMap = this.maps[this.head]!;
      const oldKey = this.keys[this.head]!;
      this.head++;
      const old = oldMap.get(oldKey);
      if (old !== undefined) {
        oldMap.delete(oldKey);
        this.used -= entryBytes(oldKey, old);
      }
    }
    // Drop the consumed front of the order now and then, so it does not grow without bound.
    if (this.head > 4096 && this.head * 2 > this.keys.length) {
      this.maps = this.maps.slice(this.head);
      this.keys = this.keys.slice(this.head);
      this.head = 0;
    }
  }
}

const entryBytes = (key: string, value: string) => 2 * (key.length + value.length) + 64;

/** The process's pseudonym memo budget, shared by every tenant: 32 MiB at most. */
export const pseudonymCache = new PseudonymCache(32 * 1024 * 1024);

/**
 * Keyed hashing of identifiers: HMAC-SHA-256 under a per-tenant key derived from the master
 * secret, hex, truncated to 32 characters. The same value maps to the same pseudonym within a
 * tenant (so counts and joins still work) and cannot be reversed without the key; other tenants
 * see different pseudonyms. Results are memoised because a request usually repeats one device,
 * user and session on every event, and HMAC is the costliest step of the hot path.
 */
export class Pseudonymizer {
  private readonly memo = new Map<string, string>();
  constructor(
    readonly key: Buffer,
    private readonly cache: PseudonymCache = pseudonymCache,
  ) {}

  static forTenant(privacySecret: string, tenant: string): Pseudonymizer {
    return new Pseudonymizer(tenantKey(privacySecret, tenant));
  }

  pseudonym(value: string): string {
    let hashed = this.memo.get(value);
    if (hashed === undefined) {
      hashed = createHmac('sha256', this.key).update(value).digest('hex').slice(0, PSEUDONYM_LENGTH);
      this.cache.add(this.memo, value, hashed);
    }
    return hashed;
  }

  /** A keyed digest of arbitrary content (server-assigned event ids), not memoised. */
  digest(content: string | Uint8Array): string {
    return createHmac('sha256', this.key).update(content).digest('hex').slice(0, PSEUDONYM_LENGTH);
  }
}

/** The per-tenant key: HMAC of the tenant id under the master secret (a one-step KDF). */
export function tenantKey(privacySecret: string, tenant: string): Buffer {
  return createHmac('sha256', privacySecret).update(`telemetry-pseudonym/v1/${tenant}`).digest();
}

const pseudonymizers = new Map<string, Pseudonymizer>();

/** One memoising pseudonymizer per (secret, tenant) for the process. */
export function pseudonymizerFor(privacySecret: string, tenant: string): Pseudonymizer {
  const key = `${privacySecret}\u0000${tenant}`;
  let p = pseudonymizers.get(key);
  if (!p) {
    p = Pseudonymizer.forTenant(privacySecret, tenant);
    pseudonymizers.set(key, p);
  }
  return p;
}

/** A policy prepared for the hot path. */
export interface CompiledPolicy {
  /** Sensitive names checked in data and custom. */
  fields: string[];
  /** The same names, for a lookup per key while serialising. */
  fieldSet: ReadonlySet<string>;
  /** Tenant-listed names that are also core fields (beyond the seed ones). */
  coreExtra: (keyof Core)[];
  domains: string[];
  ids: ReadonlySet<string>;
  trustClientUserKind: boolean;
}

const coreFieldNames = new Set(['os', 'osVersion', 'app', 'appVersion', 'locale']);

/** Compiles a policy; fields left out mean what PrivacyPolicySchema's defaults mean. */
export function compilePolicy(
  policy: Omit<PrivacyPolicy, 'trustClientUserKind'> & Partial<Pick<PrivacyPolicy, 'trustClientUserKind'>>,
): CompiledPolicy {
  const fields = [...new Set([...seedSensitiveFields, ...policy.sensitiveFields])];
  return {
    fields,
    fieldSet: new Set(fields),
    coreExtra: policy.sensitiveFields.filter((f) => coreFieldNames.has(f)) as (keyof Core)[],
    domains: policy.internalDomains.map((d) => `@${d.replace(/^@/, '').toLowerCase()}`),
    ids: new Set(policy.internalIds),
    trustClientUserKind: policy.trustClientUserKind === true,
  };
}

/**
 * Who the user is, decided by the server: `external` when the client says so (it only protects
 * more); the client's `internal` or `test` only where the tenant's policy trusts client claims;
 * else `internal` when the tenant's lists (ids, email domains) say so; else `external`.
 */
export function resolveUserKind(core: Core, policy: CompiledPolicy): UserKind {
  if (core.userKind === 'external') return 'external';
  if (core.userKind && policy.trustClientUserKind) return core.userKind;
  if (
    policy.ids.size > 0 &&
    (policy.ids.has(core.deviceId) || (core.userId && policy.ids.has(core.userId)))
  ) {
    return 'internal';
  }
  if (policy.domains.length > 0 && core.userId) {
    const user = core.userId.toLowerCase();
    if (policy.domains.some((d) => user.endsWith(d))) return 'internal';
  }
  return 'external';
}

/** The core with `userKind` resolved and, for external users, identifiers replaced by pseudonyms. */
export function privateCore(core: Core, kind: UserKind, policy: CompiledPolicy, p: Pseudonymizer): Core {
  // A literal of fixed shape, not a spread: spreading parsed objects costs ~1 µs per event.
  const out: Core = {
    deviceId: core.deviceId,
    userId: core.userId,
    sessionId: core.sessionId,
    os: core.os,
    osVersion: core.osVersion,
    app: core.app,
    appVersion: core.appVersion,
    locale: core.locale,
    userKind: kind,
  };
  if (kind !== 'external') return out;
  out.deviceId = p.pseudonym(core.deviceId);
  if (core.userId !== undefined) out.userId = p.pseudonym(core.userId);
  if (core.sessionId !== undefined) out.sessionId = p.pseudonym(core.sessionId);
  for (const field of policy.coreExtra) {
    const value = core[field];
    if (typeof value === 'string') (out as Record<string, string>)[field] = p.pseudonym(value);
  }
  return out;
}
