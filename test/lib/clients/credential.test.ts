import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialFor } from '../../../lib/clients/credential.js';
import { readConnection } from '../../../lib/config/connection.js';

// The App Service / Flex Consumption managed identity endpoint, on a real socket: the identity SDK
// finds it through IDENTITY_ENDPOINT and IDENTITY_HEADER, as it does in Azure.
let server: Server;
const requests: { url: string; header: string | undefined }[] = [];
const names = [
  'IDENTITY_ENDPOINT',
  'IDENTITY_HEADER',
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_CLIENT_SECRET',
];
const saved = Object.fromEntries(names.map((n) => [n, process.env[n]]));

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    requests.push({ url: req.url ?? '', header: req.headers['x-identity-header'] as string | undefined });
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        access_token: 'token-from-the-identity-endpoint',
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource: 'https://storage.azure.com',
        token_type: 'Bearer',
      }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.env.IDENTITY_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`;
  process.env.IDENTITY_HEADER = 'identity-header-secret';
});

afterAll(async () => {
  for (const n of names) {
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  }
  server.close();
});

/** A token for `scope` through the connection `name` (endpoint setting plus the two below), and the requests it made. */
async function tokenVia(name: string, endpoint: Record<string, string>, clientId: string, scope: string) {
  const connection = readConnection(
    { ...endpoint, [`${name}__credential`]: 'managedidentity', [`${name}__clientId`]: clientId },
    name,
  );
  if (connection.kind !== 'identity') throw new Error('expected an identity connection');
  requests.length = 0;
  const token = await credentialFor(connection).getToken(scope);
  return {
    token: token?.token,
    requests: requests.map((r) => ({ ...r, query: new URL(r.url, 'http://x').searchParams })),
  };
}

describe('credentialFor, with the settings bicep/main.bicep gives every connection', () => {
  it('gets tokens for the user-assigned identity named by <NAME>__clientId (__credential=managedidentity)', async () => {
    const got = await tokenVia(
      'TelemetryStorage',
      { TelemetryStorage__accountName: 'stdata' },
      '11111111-2222-3333-4444-555555555555',
      'https://storage.azure.com/.default',
    );
    expect(got.token).toBe('token-from-the-identity-endpoint');
    expect(got.requests.length).toBe(1);
    expect(got.requests[0]!.query.get('client_id')).toBe('11111111-2222-3333-4444-555555555555');
    expect(got.requests[0]!.query.get('resource')).toBe('https://storage.azure.com');
    expect(got.requests[0]!.header).toBe('identity-header-secret');
  });

  it('is the managed identity even when a service principal is configured in the environment', async () => {
    // DefaultAzureCredential would take these first (and call Entra ID with the secret).
    process.env.AZURE_TENANT_ID = '99999999-0000-0000-0000-000000000000';
    process.env.AZURE_CLIENT_ID = '99999999-1111-1111-1111-111111111111';
    process.env.AZURE_CLIENT_SECRET = 'a-service-principal-secret';
    const got = await tokenVia(
      'EventHubConnection',
      { EventHubConnection__fullyQualifiedNamespace: 'evhns.servicebus.windows.net' },
      '66666666-7777-8888-9999-000000000000',
      'https://eventhubs.azure.net/.default',
    );
    expect(got.token).toBe('token-from-the-identity-endpoint');
    expect(got.requests.map((r) => r.query.get('client_id'))).toEqual([
      '66666666-7777-8888-9999-000000000000',
    ]);
  });
});
