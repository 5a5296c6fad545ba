import { tableClient } from '../lib/clients/storage.js';
import { readConnection } from '../lib/config/connection.js';
import { connections } from '../lib/config/index.js';
import { PrivacyPolicySchema } from '../lib/tenants/policy.js';
import { TENANT_ID_PATTERN, TenantStore } from '../lib/tenants/store.js';
import { tenantTables } from '../lib/tenants/tables.js';
import { generateKey } from './tenant.js';

/**
 * `npm run tenant -- <command>`: tenants and their API keys, straight in the telemetry storage
 * account (TelemetryStorage__accountName, signed in with `az login`; or a TelemetryStorage
 * connection string). Keys are printed once and stored only as hashes.
 */
export const usage = `usage:
  npm run tenant -- create <tenant>     create a tenant (empty privacy policy) and print its first key
  npm run tenant -- add-key <tenant>    print a new key for an existing tenant (rotation: add, switch, revoke)
  npm run tenant -- revoke-key <key>    stop accepting a key
  npm run tenant -- policy <tenant> '<json>'   replace the tenant's privacy policy
                                        ({sensitiveFields, internalDomains, internalIds, trustClientUserKind})`;

export async function tenantCommand(
  args: readonly string[],
  store: TenantStore,
  print: (line: string) => void,
): Promise<number> {
  const [command, arg] = args;
  if (!arg || !['create', 'add-key', 'revoke-key', 'policy'].includes(command ?? '')) {
    print(usage);
    return 2;
  }
  if (command === 'revoke-key') {
    await store.removeKey(arg);
    print('revoked (running instances stop accepting it within CONFIG_CACHE_SECONDS)');
    return 0;
  }
  if (!TENANT_ID_PATTERN.test(arg)) {
    print(`tenant id "${arg}" does not match ${TENANT_ID_PATTERN}`);
    return 2;
  }
  const exists = (await store.getTenant(arg)) !== undefined;
  if (command === 'create' && exists) {
    print(`tenant ${arg} already exists: use add-key for another key`);
    return 1;
  }
  if (command === 'policy') {
    const tenant = await store.getTenant(arg);
    if (!tenant) {
      print(`tenant ${arg} does not exist: create it first`);
      return 1;
    }
    const parsed = PrivacyPolicySchema.safeParse(parseJson(args[2] ?? ''));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      print(`the policy is not valid: ${issue.path.join('.') || 'policy'}: ${issue.message}`);
      return 2;
    }
    await store.putTenant(arg, parsed.data, tenant.disabled);
    print(`tenant ${arg}: privacy policy replaced`);
    return 0;
  }
  if (command === 'add-key' && !exists) {
    print(`tenant ${arg} does not exist: create it first`);
    return 1;
  }
  if (command === 'create') await store.putTenant(arg);
  const key = generateKey();
  await store.addKey(arg, key);
  print(`tenant ${arg}, key (shown once): ${key}`);
  return 0;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

if (process.argv[1]?.endsWith('tenantAdmin.ts')) {
  const connection = readConnection(process.env, connections.storage);
  const store = new TenantStore(
    tableClient(connection, tenantTables.tenants),
    tableClient(connection, tenantTables.apiKeys),
    0,
  );
  process.exitCode = await tenantCommand(process.argv.slice(2), store, (l) => console.log(l));
}
