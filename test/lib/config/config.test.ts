import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../lib/config/index.js';

const base = {
  TelemetryStorage: 'UseDevelopmentStorage=true',
  TelemetryLake: 'UseDevelopmentStorage=true',
  EventHubConnection:
    'Endpoint=sb://localhost:5672;SharedAccessKeyName=a;SharedAccessKey=b;UseDevelopmentEmulator=true',
  CosmosConnection: 'AccountEndpoint=http://127.0.0.1:8081/;AccountKey=a2V5;',
  PRIVACY_SECRET: 'config-test-privacy-secret-0123456789',
  WEBHOOK_SIGNING_SECRET: 'config-test-webhook-secret-0123456789',
};

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('applies defaults and reads connection strings', () => {
    const config = loadConfig(base);
    expect(config.EVENTHUB_NAME).toBe('telemetry');
    expect(config.INGEST_MAX_BODY_BYTES).toBe(1024 * 1024);
    expect(config.INGEST_MAX_EVENTS).toBe(5000);
    expect(config.HEALTH_CHECK_COSMOS).toBe(true);
    expect(config.connections.storage).toEqual({
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  it('coerces numbers and booleans from strings', () => {
    const config = loadConfig({ ...base, INGEST_MAX_EVENTS: '100', HEALTH_CHECK_COSMOS: 'false' });
    expect(config.INGEST_MAX_EVENTS).toBe(100);
    expect(config.HEALTH_CHECK_COSMOS).toBe(false);
  });

  it.each([
    [{ INGEST_MAX_EVENTS: 'many' }, 'INGEST_MAX_EVENTS'],
    [{ INGEST_MAX_EVENTS: '0' }, 'INGEST_MAX_EVENTS'],
    [{ HEALTH_CHECK_COSMOS: 'yes' }, 'HEALTH_CHECK_COSMOS'],
    [{ EVENTHUB_NAME: 'bad name' }, 'EVENTHUB_NAME'],
    [{ MAIN_START_TIME: 'yesterday' }, 'MAIN_START_TIME'],
    [{ TELEMETRY_ADMIN_KEY: 'short' }, 'TELEMETRY_ADMIN_KEY'],
  ])('names the malformed setting %o', (override, setting) => {
    const err = errorOf({ ...base, ...override });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.setting).toBe(setting);
    expect(err.message).toContain(`App setting ${setting} is missing or invalid`);
  });

  it('names a missing connection and says how to set it', () => {
    const { TelemetryLake: _, ...env } = base;
    const err = errorOf(env);
    expect(err.setting).toBe('TelemetryLake');
    expect(err.message).toContain('TelemetryLake__accountName');
  });

  it('reads identity-based connections with credential and client id', () => {
    const config = loadConfig({
      ...base,
      EventHubConnection: '',
      EventHubConnection__fullyQualifiedNamespace: 'ns.servicebus.windows.net',
      EventHubConnection__credential: 'managedidentity',
      EventHubConnection__clientId: 'abc',
    });
    expect(config.connections.eventHub).toEqual({
      kind: 'identity',
      fullyQualifiedNamespace: 'ns.servicebus.windows.net',
      credential: 'managedidentity',
      clientId: 'abc',
    });
  });

  it('rejects a malformed identity setting by its full name', () => {
    const err = errorOf({ ...base, CosmosConnection: '', CosmosConnection__accountEndpoint: 'not a url' });
    expect(err.setting).toBe('CosmosConnection__accountEndpoint');
  });

  describe('PRIVACY_SECRET fails closed', () => {
    const { PRIVACY_SECRET: _, ...noSecret } = base;
    it.each([
      ['missing in Azure (no AZURE_FUNCTIONS_ENVIRONMENT)', noSecret, 'required outside local development'],
      [
        "'' in Azure (what an empty bicep parameter gives)",
        { ...noSecret, PRIVACY_SECRET: '' },
        'required outside local development',
      ],
      [
        'shorter than 32 characters',
        { ...base, PRIVACY_SECRET: 'only-thirty-one-characters-long' },
        'at least 32 characters',
      ],
      [
        'the published local secret in Production',
        {
          ...base,
          PRIVACY_SECRET: 'local-development-privacy-secret',
          AZURE_FUNCTIONS_ENVIRONMENT: 'Production',
        },
        'published local-development secret',
      ],
    ])('refuses to start when it is %s', (_label, env, message) => {
      const err = errorOf(env as Record<string, string>);
      expect(err.setting).toBe('PRIVACY_SECRET');
      expect(err.message).toContain(message);
    });

    it('falls back to the local secret only in local development', () => {
      expect(loadConfig({ ...noSecret, AZURE_FUNCTIONS_ENVIRONMENT: 'Development' }).PRIVACY_SECRET).toBe(
        'local-development-privacy-secret',
      );
      expect(loadConfig(base).PRIVACY_SECRET).toBe('config-test-privacy-secret-0123456789');
    });
  });

  describe('WEBHOOK_SIGNING_SECRET fails closed the same way (signatures would be forgeable)', () => {
    const { WEBHOOK_SIGNING_SECRET: _, ...noSecret } = base;
    it('is required outside local development, never the published local one, and falls back to it locally', () => {
      expect([errorOf(noSecret).setting, errorOf(noSecret).message]).toEqual([
        'WEBHOOK_SIGNING_SECRET',
        expect.stringContaining('required outside local development'),
      ]);
      const published = errorOf({
        ...base,
        WEBHOOK_SIGNING_SECRET: 'local-development-webhook-signing-secret',
      });
      expect(published.message).toContain('published local-development secret');
      expect(
        loadConfig({ ...noSecret, AZURE_FUNCTIONS_ENVIRONMENT: 'Development' }).WEBHOOK_SIGNING_SECRET,
      ).toBe('local-development-webhook-signing-secret');
    });
  });
});
