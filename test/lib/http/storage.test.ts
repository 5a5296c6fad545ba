import { createServer } from 'node:net';
import { AzureNamedKeyCredential, TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import type { HttpDeps } from '../../../lib/http/deps.js';
import { handleEvents } from '../../../lib/http/events.js';
import { PackageStore } from '../../../lib/ingest/packageStore.js';
import { ConfigStore } from '../../../lib/tenants/config.js';
import { OptOutStore } from '../../../lib/tenants/optouts.js';
import { TenantStore } from '../../../lib/tenants/store.js';
import { defaultLimits } from '../../helpers/limits.js';
import { memoryPublisher } from '../../helpers/memoryPublisher.js';

/** A port nothing listens on: one the OS just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('Table storage unavailable', () => {
  it('is a 503 with Retry-After within the deadline, logged with the invocation id, and nothing is published', async () => {
    const port = await closedPort();
    const table = (name: string) =>
      new TableClient(
        `http://127.0.0.1:${port}/devstoreaccount1`,
        name,
        new AzureNamedKeyCredential('devstoreaccount1', 'a2V5'),
        { allowInsecureConnection: true },
      );
    const publisher = memoryPublisher();
    const deps: HttpDeps = {
      stores: {
        tenants: new TenantStore(table('tenants'), table('apikeys'), 30),
        config: new ConfigStore(table('tenantconfig'), 30),
        optOuts: new OptOutStore(table('optouts'), 30),
      },
      packages: new PackageStore(table('packages'), 30),
      ingest: { publisher, clock: Date.now, limits: defaultLimits, deadlineMs: 300 },
      settings: {
        PRIVACY_SECRET: 'storage-test-privacy-secret-0123456789',
        INGEST_MAX_PACKAGE_BYTES: 1 << 20,
        OTLP_EVENT_NAME_ATTRIBUTE: 'event.name',
      },
    };
    const logged: unknown[][] = [];
    const log = {
      invocationId: 'inv-42',
      warn: (...args: unknown[]) => logged.push(['warn', ...args]),
      error: (...args: unknown[]) => logged.push(['error', ...args]),
    };
    const response = await handleEvents(
      {
        headers: new Headers({ authorization: 'Bearer some-tenant-key-0123456789' }),
        body: (async function* () {
          yield Buffer.from('[{"name":"a","time":1,"core":{"deviceId":"d"}}]');
        })(),
      },
      deps,
      log,
    );
    expect(response).toEqual({
      status: 503,
      headers: { 'retry-after': '5' },
      jsonBody: {
        code: 'STORAGE_UNAVAILABLE',
        message: 'Table storage did not answer in time or failed (no answer within 300 ms): retry later',
      },
    });
    expect(logged).toEqual([['error', 'invocation inv-42: 503 STORAGE_UNAVAILABLE:', expect.any(Error)]]);
    expect(publisher.packs).toEqual([]);
  });
});
