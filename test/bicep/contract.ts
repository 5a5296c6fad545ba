import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderResources } from '../../dev/bicepResources.js';
import { connections } from '../../lib/config/index.js';
import { LOCAL_SECRETS, SettingsSchema } from '../../lib/config/settings.js';
import { root } from '../helpers/stack.js';

/**
 * The contract between bicep/ and the code, checked on the template text (no Bicep compiler can
 * run here). `checkContract` returns what is out of step, one sentence each, empty when in step.
 */
export interface ContractFiles {
  /** Relative to bicep/: main.bicep, modules/*.bicep, resources.json, *.bicepparam, abbreviations.json. */
  bicep: Record<string, string>;
  /** Relative to functions/. */
  functions: Record<string, string>;
  services: string;
  settingsSource: string;
}

export async function readContractFiles(): Promise<ContractFiles> {
  const bicep: Record<string, string> = {};
  for (const dir of ['', 'modules/']) {
    for (const f of await readdir(join(root, 'bicep', dir))) {
      if (/\.(bicep|bicepparam|json)$/.test(f))
        bicep[dir + f] = await readFile(join(root, 'bicep', dir, f), 'utf8');
    }
  }
  const functions: Record<string, string> = {};
  for (const f of await readdir(join(root, 'functions'))) {
    functions[f] = await readFile(join(root, 'functions', f), 'utf8');
  }
  return {
    bicep,
    functions,
    services: await readFile(join(root, 'lib', 'services', 'index.ts'), 'utf8'),
    settingsSource: await readFile(join(root, 'lib', 'config', 'settings.ts'), 'utf8'),
  };
}

/** Built-in role ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles). */
export const builtInRoles: Record<string, { id: string; name: string }> = {
  storageBlobDataOwner: { id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', name: 'Storage Blob Data Owner' },
  storageBlobDataContributor: {
    id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    name: 'Storage Blob Data Contributor',
  },
  storageQueueDataContributor: {
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    name: 'Storage Queue Data Contributor',
  },
  storageTableDataContributor: {
    id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    name: 'Storage Table Data Contributor',
  },
  eventHubsDataSender: { id: '2b629674-e913-4c01-ae53-ef4638d8f975', name: 'Azure Event Hubs Data Sender' },
  eventHubsDataReceiver: {
    id: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde',
    name: 'Azure Event Hubs Data Receiver',
  },
  keyVaultSecretsUser: { id: '4633458b-17de-408a-b874-0445c86b69e6', name: 'Key Vault Secrets User' },
  monitoringMetricsPublisher: {
    id: '3913510d-42f4-4e42-8a64-420c390055eb',
    name: 'Monitoring Metrics Publisher',
  },
  cosmosDataContributor: {
    id: '00000000-0000-0000-0000-000000000002',
    name: 'Cosmos DB Built-in Data Contributor',
  },
};

/** Scopes, from the narrowest the code allows, as roles.bicep names its `existing` resources. */
type Scope =
  | 'host account'
  | 'data account'
  | 'data containers'
  | 'lake file system'
  | 'hub'
  | 'database'
  | 'secrets'
  | 'insights';

interface Need {
  role: keyof typeof builtInRoles;
  scope: Scope;
  /** Who needs it, for the message. */
  because: string;
}

/** What each client factory (lib/services) and each trigger needs. */
const clientNeeds: Record<string, Need> = {
  'tableService(connections.storage)': {
    role: 'storageTableDataContributor',
    scope: 'data account',
    because: 'lib/services tableService',
  },
  'tableClient(connections.storage': {
    role: 'storageTableDataContributor',
    scope: 'data account',
    because: 'lib/services table()',
  },
  'queueService(connections.storage)': {
    role: 'storageQueueDataContributor',
    scope: 'data account',
    because: 'lib/services queueService',
  },
  'blobService(connections.storage)': {
    role: 'storageBlobDataContributor',
    scope: 'data containers',
    because: 'lib/services storageContainer()',
  },
  'blobService(connections.lake)': {
    role: 'storageBlobDataContributor',
    scope: 'lake file system',
    because: 'lib/services lakeContainer',
  },
  'eventHubProducer(connections.eventHub': {
    role: 'eventHubsDataSender',
    scope: 'hub',
    because: 'lib/services eventHubProducer',
  },
  'eventHubConsumer(connections.eventHub': {
    role: 'eventHubsDataReceiver',
    scope: 'hub',
    because: 'lib/services eventHubRereader',
  },
  'cosmosClient(connections.cosmos)': {
    role: 'cosmosDataContributor',
    scope: 'database',
    because: 'lib/services cosmos',
  },
};
const triggerNeeds: Record<string, Need> = {
  storageQueue: { role: 'storageQueueDataContributor', scope: 'data account', because: 'queue triggers' },
  eventHubTrigger: { role: 'eventHubsDataReceiver', scope: 'hub', because: 'the Event Hubs trigger' },
};
const platformNeeds: Need[] = [
  {
    role: 'storageBlobDataOwner',
    scope: 'host account',
    because: 'the Functions host (AzureWebJobsStorage) and the deployment package',
  },
  { role: 'keyVaultSecretsUser', scope: 'secrets', because: 'the Key Vault references of the app settings' },
  {
    role: 'monitoringMetricsPublisher',
    scope: 'insights',
    because: 'Entra-authenticated Application Insights telemetry',
  },
];

const identitySuffixes = ['accountName', 'fullyQualifiedNamespace', 'accountEndpoint', 'blobServiceUri'];
/** Settings the platform reads (not lib/config). */
const hostSettings = ['APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'];

/** Text from `open` to its matching close bracket (Bicep objects and arrays). */
function block(text: string, start: number): string {
  const open = text[start]!;
  const close = open === '{' ? '}' : open === '[' ? ']' : ')';
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === open) depth++;
    else if (text[i] === close && --depth === 0) return text.slice(start, i + 1);
  }
  return text.slice(start);
}

/** `KEY: value` lines of a Bicep object (one level), comments skipped. */
function objectEntries(body: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of body.split('\n')) {
    const m = /^\s*'?([A-Za-z_][\w$-]*)'?:\s*(.+?)\s*$/.exec(line);
    if (m && !line.trim().startsWith('//')) entries.set(m[1]!, m[2]!);
  }
  return entries;
}

/** The app settings main.bicep gives the function app, with their value expressions. */
export function appSettingsOf(main: string, resourcesJson: string): Map<string, string> {
  const settings = new Map<string, string>();
  const at = main.indexOf('appSettings: union(resources.settings, {');
  if (at < 0) return settings;
  const body = block(main, main.indexOf('{', at));
  for (const [k, v] of objectEntries(body.slice(1, -1))) settings.set(k, v);
  const fromJson = (JSON.parse(resourcesJson) as { settings?: Record<string, string> }).settings ?? {};
  for (const [k, v] of Object.entries(fromJson)) if (!settings.has(k)) settings.set(k, `'${v}'`);
  return settings;
}

interface Assignment {
  symbol: string;
  role: string;
  scope: Scope | string;
  why: string | undefined;
}

/** Role assignments of roles.bicep, each with its role, the scope it resolves to and its reason. */
export function assignmentsOf(roles: string): Assignment[] {
  const existing = new Map<string, { type: string; name: string }>();
  for (const m of roles.matchAll(
    /resource (\w+) '([^@']+)@[^']+' existing = \[?[^{]*\{\s*name: ([^}\n]+?)\s*\}/g,
  )) {
    existing.set(m[1]!, { type: m[2]!, name: m[3]! });
  }
  const scopeOf = (symbol: string, sqlScope?: string): Scope | string => {
    if (sqlScope !== undefined) return sqlScope.includes('/dbs/') ? 'database' : `account (${sqlScope})`;
    const r = existing.get(symbol);
    if (!r) return `unknown (${symbol})`;
    const t = r.type.toLowerCase();
    if (t === 'microsoft.storage/storageaccounts') {
      if (r.name.includes('hostStorageName')) return 'host account';
      if (r.name.includes('dataStorageName')) return 'data account';
      return `storage account (${r.name})`;
    }
    if (t === 'microsoft.storage/storageaccounts/blobservices/containers') {
      if (r.name.includes('dataStorageName')) return 'data containers';
      if (r.name.includes('lakeName')) return 'lake file system';
    }
    if (t === 'microsoft.eventhub/namespaces/eventhubs') return 'hub';
    if (t === 'microsoft.keyvault/vaults/secrets') return 'secrets';
    if (t === 'microsoft.insights/components') return 'insights';
    if (t === 'microsoft.documentdb/databaseaccounts') return 'Cosmos DB account';
    if (t === 'microsoft.storage/storageaccounts/tableservices/tables') return 'tenant tables';
    return `${r.type} (${r.name})`;
  };
  const out: Assignment[] = [];
  const re =
    /(?:\/\/ Why: ([^\n]*)\n)?resource (\w+) '[^']*(?:roleAssignments|sqlRoleAssignments)@[^']+' = /g;
  for (const m of roles.matchAll(re)) {
    const body = block(roles, (m.index ?? 0) + m[0].length);
    const role = /role\.(\w+)/.exec(body)?.[1] ?? '(none)';
    const sql = /scope: '([^']+)'/.exec(body)?.[1];
    const scope = /scope: (\w+)/.exec(body)?.[1] ?? '';
    out.push({ symbol: m[2]!, role, scope: scopeOf(scope, sql), why: m[1] });
  }
  return out;
}

const describeNeed = (n: Need) => `${builtInRoles[n.role]!.name} on the ${n.scope}`;

export function checkContract(files: ContractFiles): string[] {
  const problems: string[] = [];
  const main = files.bicep['main.bicep'] ?? '';
  const resourcesJson = files.bicep['resources.json'] ?? '{}';

  // 1. The resource names: generated from lib/, committed, loaded by main.bicep.
  const expected = JSON.parse(renderResources()) as Record<string, unknown>;
  const actual = JSON.parse(resourcesJson) as Record<string, unknown>;
  for (const key of Object.keys(expected)) {
    if (key === '$comment') continue;
    const want = expected[key];
    const have = actual[key];
    if (JSON.stringify(want) === JSON.stringify(have)) continue;
    if (Array.isArray(want)) {
      const w = want.map((x) => JSON.stringify(x));
      const h = Array.isArray(have) ? have.map((x) => JSON.stringify(x)) : [];
      const missing = w.filter((x) => !h.includes(x));
      const extra = h.filter((x) => !w.includes(x));
      problems.push(
        `bicep/resources.json ${key} is out of step with lib/: missing ${missing.join(', ') || 'nothing'}, unexpected ${extra.join(', ') || 'nothing'}; run \`npm run bicep:resources\``,
      );
    } else {
      problems.push(
        `bicep/resources.json ${key} is out of step with lib/: expected ${JSON.stringify(want)}, found ${JSON.stringify(have)}; run \`npm run bicep:resources\``,
      );
    }
  }
  if (!main.includes("loadJsonContent('resources.json')"))
    problems.push('main.bicep does not load resources.json');
  const wiring: [string, string][] = [
    ['main.bicep', 'tables: resources.tables'],
    ['main.bicep', 'queues: resources.queues'],
    ['main.bicep', 'containers: resources.containers'],
    ['main.bicep', 'lakeFileSystem: resources.settings.LAKE_FILESYSTEM'],
    ['main.bicep', 'hubName: resources.settings.EVENTHUB_NAME'],
    ['main.bicep', 'consumerGroups: resources.consumerGroups'],
    ['main.bicep', 'databaseName: resources.settings.COSMOS_DATABASE'],
    ['main.bicep', 'containers: resources.cosmosContainers'],
    ['main.bicep', 'poisonQueues: resources.poisonQueues'],
    ['modules/storage.bicep', 'for t in tables'],
    ['modules/storage.bicep', 'for q in queues'],
    ['modules/storage.bicep', 'for c in containers'],
    ['modules/eventhubs.bicep', 'for g in consumerGroups'],
    ['modules/cosmos.bicep', 'partitionKey: { paths: [c.partitionKey]'],
  ];
  for (const [file, text] of wiring) {
    if (!(files.bicep[file] ?? '').includes(text)) problems.push(`${file} no longer has \`${text}\``);
  }

  // 2. Names the functions bind to.
  const queues = new Set((actual.queues as string[] | undefined) ?? []);
  const settings = appSettingsOf(main, resourcesJson);
  for (const [file, text] of Object.entries(files.functions)) {
    for (const m of text.matchAll(/queueName: '([^']+)'/g)) {
      if (!queues.has(m[1]!))
        problems.push(`functions/${file} listens on queue ${m[1]}, which bicep does not create`);
      if (!queues.has(`${m[1]}-poison`))
        problems.push(`functions/${file}: queue ${m[1]} has no -poison twin in bicep`);
    }
    for (const m of text.matchAll(/%([A-Za-z_]\w*)%/g)) {
      if (!settings.has(m[1]!))
        problems.push(`functions/${file} reads %${m[1]}%, which main.bicep does not set`);
    }
    for (const m of text.matchAll(/connection: '([^']+)'/g)) {
      if (!settings.has(`${m[1]}__credential`))
        problems.push(`functions/${file} uses connection ${m[1]}, which main.bicep does not set`);
    }
  }

  // The alert rules read log lines the code writes.
  const alerts = files.bicep['modules/alerts.bicep'] ?? '';
  const logLines: [string, string, string][] = [
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Bicep or source text, matched as it is written
    ['live [0-9]{12}→', 'main.ts', '`${o.pipeline} ${o.run} ${o.from}→${o.next}'],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Bicep or source text, matched as it is written
    ['moved to )', 'notify.ts', 'moved to ${alertsQueue}-poison'],
  ];
  for (const [query, file, line] of logLines) {
    if (alerts.includes(query) && !(files.functions[file] ?? '').includes(line)) {
      problems.push(`alerts.bicep reads a log line functions/${file} no longer writes (${line})`);
    }
  }
  if (!main.includes("param nodeVersion string = '22'"))
    problems.push('main.bicep: the app does not run on Node 22');

  // 3. App settings.
  const shape = SettingsSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
  const secretSettings = new Set<string>(Object.keys(LOCAL_SECRETS));
  // A setting documented as "a Key Vault reference in Azure" is a secret too.
  for (const m of files.settingsSource.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*([A-Z][A-Z0-9_]*):/g)) {
    if (m[1]!.includes('Key Vault reference')) secretSettings.add(m[2]!);
  }
  const required = new Set<string>(secretSettings);
  for (const [name, schema] of Object.entries(shape))
    if (!schema.safeParse(undefined).success) required.add(name);
  for (const name of required) {
    if (!settings.has(name))
      problems.push(
        `main.bicep: app setting ${name} is not set (lib/config requires it outside Development)`,
      );
  }
  for (const name of secretSettings) {
    const value = settings.get(name);
    if (value && !value.startsWith("'@Microsoft.KeyVault("))
      problems.push(`main.bicep: app setting ${name} is a secret but not a Key Vault reference`);
  }
  for (const name of ['TELEMETRY_DEV_KEY', 'AZURE_FUNCTIONS_ENVIRONMENT']) {
    if (settings.has(name)) problems.push(`main.bicep: app setting ${name} must not be set in Azure`);
  }
  const connectionNames = ['AzureWebJobsStorage', ...Object.values(connections)];
  for (const name of connectionNames) {
    if (settings.has(name))
      problems.push(`main.bicep: ${name} is a connection string; use identity settings`);
    if (!identitySuffixes.some((s) => settings.has(`${name}__${s}`)))
      problems.push(`main.bicep: connection ${name} has no endpoint setting`);
    if (settings.get(`${name}__credential`) !== "'managedidentity'")
      problems.push(`main.bicep: ${name}__credential is not managedidentity`);
    if (settings.get(`${name}__clientId`) !== 'clientId')
      problems.push(`main.bicep: ${name}__clientId is not the user-assigned identity's client id`);
  }
  for (const name of settings.keys()) {
    const known =
      name in shape ||
      hostSettings.includes(name) ||
      connectionNames.includes(name) ||
      connectionNames.some((c) => name.startsWith(`${c}__`)) ||
      name.startsWith('AzureFunctionsJobHost__');
    if (!known)
      problems.push(
        `main.bicep: app setting ${name} is read by nothing (not in lib/config, not a connection)`,
      );
  }
  if (!/APPLICATIONINSIGHTS_AUTHENTICATION_STRING: '[^']*Authorization=AAD/.test(main)) {
    problems.push('main.bicep: Application Insights telemetry is not Entra-authenticated');
  }

  // 4. Roles: every client has its role on the narrowest scope, nothing broader or unexplained.
  const roles = files.bicep['modules/roles.bicep'] ?? '';
  for (const [key, { id, name }] of Object.entries(builtInRoles)) {
    if (!roles.includes(`${key}: '${id}'`)) problems.push(`roles.bicep: ${key} is not ${name} (${id})`);
  }
  const needs: Need[] = [...platformNeeds];
  for (const [call, need] of Object.entries(clientNeeds)) if (files.services.includes(call)) needs.push(need);
  for (const m of files.services.matchAll(/\b(\w+)\(connections\.(\w+)/g)) {
    if (!Object.keys(clientNeeds).some((c) => c.startsWith(`${m[1]}(connections.${m[2]}`))) {
      problems.push(
        `lib/services builds ${m[1]}(connections.${m[2]}), which the contract does not know: add the role it needs`,
      );
    }
  }
  const functionsText = Object.values(files.functions).join('\n');
  if (/app\.storageQueue\(/.test(functionsText)) needs.push(triggerNeeds.storageQueue!);
  if (/type: 'eventHubTrigger'|app\.eventHub\(/.test(functionsText))
    needs.push(triggerNeeds.eventHubTrigger!);
  const assignments = assignmentsOf(roles);
  for (const need of needs) {
    if (!assignments.some((a) => a.role === need.role && a.scope === need.scope)) {
      problems.push(`roles.bicep: no ${describeNeed(need)} (${need.because})`);
    }
  }
  for (const a of assignments) {
    if (!needs.some((n) => n.role === a.role && n.scope === a.scope)) {
      const known = builtInRoles[a.role]?.name ?? a.role;
      problems.push(
        `roles.bicep: ${a.symbol} grants ${known} on the ${a.scope}, which no client needs there (broader than needed)`,
      );
    }
    if (!a.why) problems.push(`roles.bicep: ${a.symbol} has no "// Why:" line`);
  }

  // The operator (npm run tenant) may write the tenant tables, nothing else.
  const operator = assignmentsOf(files.bicep['modules/operator.bicep'] ?? '').map(
    (a) => `${a.role} @ ${a.scope}`,
  );
  if (JSON.stringify(operator) !== JSON.stringify(['storageTableDataContributor @ tenant tables'])) {
    problems.push(
      `operator.bicep grants ${operator.join(', ') || 'nothing'}; expected Storage Table Data Contributor on the tenant tables only`,
    );
  }
  if (!main.includes('tables: resources.operatorTables'))
    problems.push('main.bicep no longer has `tables: resources.operatorTables`');

  // 5. Secrets: Key Vault only; no literal that looks like a key or a connection string.
  const kv = files.bicep['modules/keyvault.bicep'] ?? '';
  for (const p of ['enableRbacAuthorization: true', 'enablePurgeProtection: true']) {
    if (!kv.includes(p)) problems.push(`keyvault.bicep: ${p} is missing`);
  }
  if (!(files.bicep['modules/functionapp.bicep'] ?? '').includes('keyVaultReferenceIdentity: identityId')) {
    problems.push('functionapp.bicep: Key Vault references are not resolved with the user-assigned identity');
  }
  for (const m of main.matchAll(/param (\w+) string = '([^']*)'/g)) {
    if (/key|secret|password/i.test(m[1]!))
      problems.push(`main.bicep: parameter ${m[1]} has a literal default`);
  }
  for (const m of main.matchAll(/param (adminKey|privacySecret|webhookSigningSecret) /g)) {
    if (!new RegExp(`@secure\\(\\)\\s*(?:@\\w+\\([^)]*\\)\\s*)*param ${m[1]} `).test(main))
      problems.push(`main.bicep: ${m[1]} is not @secure()`);
  }
  const keyLike = [
    /AccountKey=/i,
    /SharedAccessKey=/i,
    /DefaultEndpointsProtocol=/i,
    /InstrumentationKey=/i,
    /\blistKeys\(/,
    /\blistConnectionStrings\(/,
    /['"][A-Za-z0-9+/]{40,}={0,2}['"]/,
  ];
  for (const [file, text] of Object.entries(files.bicep)) {
    for (const re of keyLike) {
      const m = re.exec(text);
      if (m) problems.push(`bicep/${file}: "${m[0]}" looks like a key or a connection string`);
    }
  }
  for (const [file, text] of Object.entries(files.bicep)) {
    if (!file.endsWith('.bicepparam')) continue;
    for (const p of ['adminKey', 'privacySecret', 'webhookSigningSecret']) {
      const m = new RegExp(`param ${p} = (.+)`).exec(text);
      if (m && !/^readEnvironmentVariable\('[A-Z_]+'\)$/.test(m[1]!.trim())) {
        problems.push(`bicep/${file}: ${p} must come from the environment, without a default`);
      }
    }
  }
  return problems;
}
