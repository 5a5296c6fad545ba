/** Table names of tenant data (created by bicep in Azure and by lib/provision locally). */
export const tenantTables = {
  tenants: 'tenants',
  apiKeys: 'apikeys',
  config: 'tenantconfig',
  optOuts: 'optouts',
  packages: 'packages',
} as const;
