import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { root } from '../helpers/stack.js';
import {
  appSettingsOf,
  assignmentsOf,
  type ContractFiles,
  checkContract,
  readContractFiles,
} from './contract.js';

let files: ContractFiles;

beforeAll(async () => {
  files = await readContractFiles();
});

/** A copy of the files with one of them edited in memory. */
function edited(file: string, edit: (text: string) => string): ContractFiles {
  const text = files.bicep[file]!;
  const changed = edit(text);
  expect(changed).not.toBe(text);
  return { ...files, bicep: { ...files.bicep, [file]: changed } };
}

describe('bicep/ and the code', () => {
  it('are in step', () => {
    expect(checkContract(files)).toEqual([]);
  });

  it('the app gets every setting lib/config requires, the secrets as Key Vault references', () => {
    const settings = appSettingsOf(files.bicep['main.bicep']!, files.bicep['resources.json']!);
    expect(settings.get('PRIVACY_SECRET')).toBe(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Bicep or source text, matched as it is written
      "'@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${secretNames.PRIVACY_SECRET})'",
    );
    expect(settings.get('WEBHOOK_SIGNING_SECRET')).toMatch(/^'@Microsoft\.KeyVault\(/);
    expect(settings.get('TELEMETRY_ADMIN_KEY')).toMatch(/^'@Microsoft\.KeyVault\(/);
    expect(settings.get('EVENTHUB_NAME')).toBe("'telemetry'");
    expect(settings.get('LAND_REREAD_CONSUMER_GROUP')).toBe("'land-reread'");
    expect(settings.get('EventHubConnection__credential')).toBe("'managedidentity'");
  });

  it('every role is one a client needs, on the narrowest scope, with its reason', () => {
    const roles = assignmentsOf(files.bicep['modules/roles.bicep']!).map((a) => `${a.role} @ ${a.scope}`);
    expect(roles).toEqual([
      'storageBlobDataOwner @ host account',
      'storageTableDataContributor @ data account',
      'storageQueueDataContributor @ data account',
      'storageBlobDataContributor @ data containers',
      'storageBlobDataContributor @ lake file system',
      'eventHubsDataSender @ hub',
      'eventHubsDataReceiver @ hub',
      'cosmosDataContributor @ database',
      'keyVaultSecretsUser @ secrets',
      'monitoringMetricsPublisher @ insights',
    ]);
  });
});

describe('the contract catches drift', () => {
  it('a removed app setting', () => {
    const drifted = edited('main.bicep', (t) => t.replace(/\n\s*PRIVACY_SECRET: '@Microsoft[^\n]*/, ''));
    expect(checkContract(drifted)).toEqual([
      'main.bicep: app setting PRIVACY_SECRET is not set (lib/config requires it outside Development)',
    ]);
  });

  it('a secret set as a plain value', () => {
    const drifted = edited('main.bicep', (t) =>
      t.replace(/WEBHOOK_SIGNING_SECRET: '@Microsoft[^\n]*/, 'WEBHOOK_SIGNING_SECRET: webhookSigningSecret'),
    );
    expect(checkContract(drifted)).toEqual([
      'main.bicep: app setting WEBHOOK_SIGNING_SECRET is a secret but not a Key Vault reference',
    ]);
  });

  it('a renamed queue', () => {
    const drifted = edited('resources.json', (t) => t.replaceAll('"curate-tasks', '"curate-jobs'));
    expect(checkContract(drifted)).toEqual([
      'bicep/resources.json queues is out of step with lib/: missing "curate-tasks", "curate-tasks-poison", unexpected "curate-jobs", "curate-jobs-poison"; run `npm run bicep:resources`',
      'bicep/resources.json poisonQueues is out of step with lib/: missing "curate-tasks-poison", unexpected "curate-jobs-poison"; run `npm run bicep:resources`',
      'functions/curate.ts listens on queue curate-tasks, which bicep does not create',
      'functions/curate.ts: queue curate-tasks has no -poison twin in bicep',
    ]);
  });

  it('a missing role', () => {
    const drifted = edited('modules/roles.bicep', (t) =>
      t.replace(/\/\/ Why: EventHubConnection — ingest[^\n]*\nresource hubSender [\s\S]*?\n}\n/, ''),
    );
    expect(checkContract(drifted)).toEqual([
      'roles.bicep: no Azure Event Hubs Data Sender on the hub (lib/services eventHubProducer)',
    ]);
  });

  it('a role broader than needed', () => {
    const drifted = edited('modules/roles.bicep', (t) =>
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Bicep or source text, matched as it is written
      t.replace("scope: '${cosmos.id}/dbs/${cosmosDatabaseName}'", 'scope: cosmos.id'),
    );
    expect(checkContract(drifted)).toEqual([
      'roles.bicep: no Cosmos DB Built-in Data Contributor on the database (lib/services cosmos)',
      'roles.bicep: cosmosData grants Cosmos DB Built-in Data Contributor on the Cosmos DB account, which no client needs there (broader than needed)',
    ]);
  });

  it('a literal that looks like a key', () => {
    const drifted = edited('main.bicep', (t) =>
      t.replace(
        'MAIN_SCHEDULE: mainSchedule',
        "MAIN_SCHEDULE: mainSchedule\n      CosmosConnection: 'AccountEndpoint=https://x.documents.azure.com/;AccountKey=abc'",
      ),
    );
    expect(checkContract(drifted)).toEqual([
      'main.bicep: CosmosConnection is a connection string; use identity settings',
      'bicep/main.bicep: "AccountKey=" looks like a key or a connection string',
    ]);
  });
});

describe('azure.yaml', () => {
  it('deploys what npm run package assembles, and runs it before packaging (azd runs no package script itself)', async () => {
    const text = await readFile(join(root, 'azure.yaml'), 'utf8');
    const api = /\n {2}api:\n((?: {4}.*\n)+)/.exec(text)?.[1] ?? '';
    expect(api).toContain('    dist: .deploy\n');
    expect(api).toMatch(/\n {4}hooks:\n {6}prepackage:\n(?: {8}.*\n)*? {8}run: npm run package\n/);
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.package).toBe('tsx dev/package.ts');
  });
});
