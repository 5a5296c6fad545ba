import type { ConfigStore } from '../tenants/config.js';
import type { OptOutStore } from '../tenants/optouts.js';
import type { Tenant } from '../tenants/store.js';
import { type Blocklist, compileBlocklist, compileSampling, type Sampling } from './eventRules.js';
import type { TenantRules } from './pipeline.js';
import { type CompiledPolicy, compilePolicy, pseudonymizerFor } from './privacy.js';

/** Compiled forms, recompiled only when the tenant or config version changes. */
const compiled = new WeakMap<object, CompiledPolicy>();
const compiledConfigs = new Map<string, { version: number; blocklist: Blocklist; sampling: Sampling }>();

/** Everything ingest applies for a tenant: privacy policy, blocklist, sampling and opt-outs. */
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
  let compiledConfig = compiledConfigs.get(tenant.id);
  if (compiledConfig?.version !== version) {
    compiledConfig = {
      version,
      blocklist: compileBlocklist(config.blocklist),
      sampling: compileSampling(config.sampling),
    };
    compiledConfigs.set(tenant.id, compiledConfig);
  }
  return {
    tenant: tenant.id,
    policy,
    pseudonymizer: pseudonymizerFor(privacySecret, tenant.id),
    blocklist: compiledConfig.blocklist,
    sampling: compiledConfig.sampling,
    optOut: config.optOut,
    optOuts,
  };
}
