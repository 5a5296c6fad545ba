import type { TableClient } from '@azure/data-tables';
import { isStatus } from '../clients/errors.js';
import { TenantError } from './errors.js';
import { hashKey } from './keys.js';
import { emptyPolicy, type PrivacyPolicy, PrivacyPolicySchema } from './policy.js';
import { TtlCache } from './ttl-cache.js';

export interface Tenant {
  id: string;
  disabled: boolean;
  policy: PrivacyPolicy;
}

/**
 * Tenant ids: letters, digits, `_ . -`, at most 64 (safe as Table keys and in lake paths; never
 * starting with `~`, which other tables use for their own partitions).
 */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const TENANT_PK = 'tenant';
const KEY_PK = 'key';

/** Tenants and their hashed API keys in Table storage, cached briefly in memory. */
export class TenantStore {
  /** Known keys only, so a spray of random keys can never push them out. */
  private readonly byKey: TtlCache<Tenant | undefined>;
  /** Unknown keys, in a cache of their own (what a spray churns). */
  private readonly unknownKeys: TtlCache<undefined>;
  private readonly byId: TtlCache<Tenant | undefined>;

  constructor(
    private readonly tenants: TableClient,
    private readonly keys: TableClient,
    cacheSeconds: number,
    clock: () => number = Date.now,
    maxCachedKeys = 10_000,
  ) {
    this.byKey = new TtlCache(cacheSeconds * 1000, clock, maxCachedKeys);
    this.unknownKeys = new TtlCache(cacheSeconds * 1000, clock, maxCachedKeys);
    this.byId = new TtlCache(cacheSeconds * 1000, clock, maxCachedKeys);
  }

  async putTenant(id: string, policy: Partial<PrivacyPolicy> = {}, disabled = false): Promise<Tenant> {
    if (!TENANT_ID_PATTERN.test(id)) throw new Error(`Tenant id "${id}" does not match ${TENANT_ID_PATTERN}`);
    const parsed = PrivacyPolicySchema.parse({ ...emptyPolicy, ...policy });
    await this.tenants.upsertEntity(
      { partitionKey: TENANT_PK, rowKey: id, policy: JSON.stringify(parsed), disabled },
      'Replace',
    );
    this.byId.delete(id);
    return { id, disabled, policy: parsed };
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    return this.byId.get(id, async () => {
      try {
        const e = await this.tenants.getEntity<{ policy: string; disabled?: boolean }>(TENANT_PK, id);
        return { id, disabled: e.disabled === true, policy: storedPolicy(id, e.policy) };
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    });
  }

  /** Stores a key (hashed) for a tenant; the key itself is never written anywhere. */
  async addKey(tenant: string, key: string): Promise<void> {
    await this.keys.upsertEntity({ partitionKey: KEY_PK, rowKey: hashKey(key), tenant }, 'Replace');
    this.byKey.delete(hashKey(key));
    this.unknownKeys.delete(hashKey(key));
  }

  /**
   * Revokes a key: it stops working here at once, and on other instances when their cache of it
   * expires (CONFIG_CACHE_SECONDS). Revoking an unknown key is a no-op.
   */
  async removeKey(key: string): Promise<void> {
    try {
      await this.keys.deleteEntity(KEY_PK, hashKey(key));
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
    }
    this.byKey.delete(hashKey(key));
  }

  /** The tenant a key belongs to, or undefined for an unknown key. */
  async tenantForKey(key: string): Promise<Tenant | undefined> {
    const hash = hashKey(key);
    if (this.unknownKeys.has(hash)) return undefined;
    const tenant = await this.byKey.get(
      hash,
      async () => {
        try {
          const e = await this.keys.getEntity<{ tenant: string }>(KEY_PK, hash);
          return this.getTenant(e.tenant);
        } catch (err) {
          if (isStatus(err, 404)) return undefined;
          throw err;
        }
      },
      (found) => found !== undefined,
    );
    if (!tenant) await this.unknownKeys.get(hash, async () => undefined);
    return tenant;
  }
}

/**
 * A stored privacy policy, which must parse: falling back to an empty one would publish the
 * tenant's sensitive fields unprotected (503 TENANT_POLICY_UNREADABLE instead).
 */
function storedPolicy(tenant: string, text: string): PrivacyPolicy {
  let problem: string;
  try {
    const parsed = PrivacyPolicySchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    problem = `${issue.path.join('.') || 'policy'}: ${issue.message}`;
  } catch (err) {
    problem = (err as Error).message;
  }
  throw new TenantError(
    'TENANT_POLICY_UNREADABLE',
    `The stored privacy policy of tenant ${tenant} does not parse (${problem}): nothing is accepted until an admin fixes it`,
  );
}
