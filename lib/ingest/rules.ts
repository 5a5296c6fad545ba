import type { ConfigStore } from '../tenants/config.js';
import type { OptOutStore } from '../tenants/optouts.js';
import type { Tenant } from '../tenants/store.js';
import { type Blocklist, compileBlocklist } from './blocklist.js';
import type { TenantRules } from './pipeline.js';
import { type CompiledPolicy, compilePolicy, pseudonymizerFor } from './privacy.js';

/** Compiled forms, recompiled only when the tenant or config version changes. */
const compiled = new WeakMap<object, CompiledPolicy>();
const blocklists = new Map<string, { version: number; blocklist: Blocklist }>();

/** Everything ingest applies for a tenant: privacy policy, blocklist and opt-outs. */
export async function tenantRules(
  tenant: Tenant,
  stores: { config: ConfigStore; optOuts: OptOutStore },
  privacySecret: string,
): Promise<TenantRules> {
  const [{ config, version }, optOuts] = await Promise.all([
    stores.config.get(tenant.id),
    stores.optOuts.list(tenant.id),
  ]);
  let policy = compiled.get(tenant.policy);
  if (!policy) {
    policy = compilePolicy(tenant.policy);
    compiled.set(tenant.policy, policy);
  }
  let block = blocklists.get(tenant.id);
  if (block?.version !== version) {
    block = { version, blocklist: compileBlocklist(config.blocklist) };
    blocklists.set(tenant.id, block);
  }
  return {
    tenant: tenant.id,
    policy,
    pseudonymizer: pseudonymizerFor(privacySecret, tenant.id),
    blocklist: block.blocklist,
    optOut: config.optOut,
    optOuts,
  };
}
