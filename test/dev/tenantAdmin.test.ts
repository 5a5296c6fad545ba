import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../dev/emulators/azurite.js';
import { tenantCommand, usage } from '../../dev/tenantAdmin.js';
import { TenantStore } from '../../lib/tenants/store.js';

let azurite: Azurite;
let store: TenantStore;

beforeAll(async () => {
  azurite = await startAzurite({ blobPort: 0, queuePort: 0, tablePort: 0 });
  const table = async (name: string) => {
    const t = TableClient.fromConnectionString(azurite.connectionString, name, {
      allowInsecureConnection: true,
    });
    await t.createTable();
    return t;
  };
  store = new TenantStore(await table('tenants'), await table('apikeys'), 0);
});
afterAll(() => azurite?.stop());

async function run(...args: string[]): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const code = await tenantCommand(args, store, (l) => out.push(l));
  return { code, out };
}

const keyOf = (line: string) => /key \(shown once\): (\S+)$/.exec(line)![1]!;

describe('npm run tenant', () => {
  it('creates a tenant with a key, adds a second, revokes the first: the rotation', async () => {
    const created = await run('create', 'acme');
    expect(created.code).toBe(0);
    const first = keyOf(created.out[0]!);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await store.tenantForKey(first))?.id).toBe('acme');

    const added = await run('add-key', 'acme');
    const second = keyOf(added.out[0]!);
    expect(second).not.toBe(first);

    expect(await run('revoke-key', first)).toEqual({
      code: 0,
      out: ['revoked (running instances stop accepting it within CONFIG_CACHE_SECONDS)'],
    });
    expect(await store.tenantForKey(first)).toBeUndefined();
    expect((await store.tenantForKey(second))?.id).toBe('acme');
  });

  it('replaces the privacy policy, and refuses one that does not parse', async () => {
    expect(
      await run('policy', 'acme', '{"internalDomains":["acme.example"],"sensitiveFields":["email"]}'),
    ).toEqual({
      code: 0,
      out: ['tenant acme: privacy policy replaced'],
    });
    expect((await store.getTenant('acme'))?.policy).toEqual({
      sensitiveFields: ['email'],
      internalDomains: ['acme.example'],
      internalIds: [],
      trustClientUserKind: false,
    });
    expect(await run('policy', 'acme', '{"internalDomain":[]}')).toEqual({
      code: 2,
      out: ['the policy is not valid: policy: Unrecognized key: "internalDomain"'],
    });
    expect(await run('policy', 'acme', 'not json')).toMatchObject({ code: 2 });
  });

  it('refuses what it cannot do, saying why', async () => {
    expect(await run('create', 'acme')).toEqual({
      code: 1,
      out: ['tenant acme already exists: use add-key for another key'],
    });
    expect(await run('add-key', 'nobody')).toEqual({
      code: 1,
      out: ['tenant nobody does not exist: create it first'],
    });
    expect((await run('create', '~bad')).code).toBe(2);
    expect(await run('delete', 'acme')).toEqual({ code: 2, out: [usage] });
  });
});
