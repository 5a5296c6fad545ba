import type { Services } from '../services/index.js';
import { ConfigStore } from './config.js';
import { OptOutStore } from './optouts.js';
import { TenantStore } from './store.js';
import { tenantTables } from './tables.js';

export * from './config.js';
export * from './errors.js';
export * from './keys.js';
export * from './optouts.js';
export * from './policy.js';
export * from './store.js';
export * from './tables.js';

export interface TenantStores {
  tenants: TenantStore;
  config: ConfigStore;
  optOuts: OptOutStore;
}

const memo = new WeakMap<Services, TenantStores>();

/** The stores of a process, over its shared table clients (one set per Services). */
export function tenantStores(s: Services): TenantStores {
  let stores = memo.get(s);
  if (!stores) {
    const seconds = s.config.CONFIG_CACHE_SECONDS;
    stores = {
      tenants: new TenantStore(s.table(tenantTables.tenants), s.table(tenantTables.apiKeys), seconds),
      config: new ConfigStore(s.table(tenantTables.config), seconds),
      optOuts: new OptOutStore(s.table(tenantTables.optOuts), seconds),
    };
    memo.set(s, stores);
  }
  return stores;
}
