import type { Services } from '../services/index.js';
import { ConfigStore } from './config.js';
import { OptOutStore } from './optouts.js';
import { PackageStore } from './packages.js';
import { TenantStore } from './store.js';
import { tenantTables } from './tables.js';

export * from './config.js';
export * from './dev.js';
export * from './keys.js';
export * from './optouts.js';
export * from './packages.js';
export * from './rules.js';
export * from './store.js';
export * from './tables.js';

export interface TenantStores {
  tenants: TenantStore;
  config: ConfigStore;
  optOuts: OptOutStore;
  packages: PackageStore;
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
      packages: new PackageStore(s.table(tenantTables.packages)),
    };
    memo.set(s, stores);
  }
  return stores;
}
