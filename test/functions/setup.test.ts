import { afterEach, describe, expect, it } from 'vitest';
import { startHost } from '../../dev/host/index.js';
import { ConfigError } from '../../lib/config/index.js';
import { root } from '../helpers/stack.js';

const valid: Record<string, string> = {
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  TelemetryStorage: 'UseDevelopmentStorage=true',
  TelemetryLake: 'UseDevelopmentStorage=true',
  EventHubConnection:
    'Endpoint=sb://127.0.0.1:9;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=true',
  CosmosConnection: 'AccountEndpoint=http://127.0.0.1:9/;AccountKey=a2V5;',
  PRIVACY_SECRET: 'setup-test-privacy-secret-0123456789',
  AZURE_FUNCTIONS_ENVIRONMENT: 'Development',
};
const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

describe('app start', () => {
  it('refuses to start with a malformed setting, naming it', async () => {
    Object.assign(process.env, valid, { INGEST_MAX_EVENTS: 'many' });
    const started = startHost({ root, modules: ['functions/setup.ts'], log: () => {} });
    const err = await started.then(
      (host) => host.stop().then(() => 'started'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ setting: 'INGEST_MAX_EVENTS', code: 'CONFIG_INVALID' });
  });

  it('starts with valid settings', async () => {
    Object.assign(process.env, valid);
    const host = await startHost({ root, modules: ['functions/setup.ts'], log: () => {} });
    await host.stop();
  });
});
