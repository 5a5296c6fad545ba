import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Azurite, startAzurite } from '../../../dev/emulators/azurite.js';
import { ensureDevTenant } from '../../../dev/tenant.js';
import { authenticateTenant } from '../../../lib/auth/tenantKey.js';
import { PackageStore } from '../../../lib/ingest/packageStore.js';
import { ConfigStore } from '../../../lib/tenants/config.js';
import { hashKey } from '../../../lib/tenants/keys.js';
import { OptOutStore } from '../../../lib/tenants/optouts.js';
import { TenantStore } from '../../../lib/tenants/store.js';
import { TtlCache } from '../../../lib/tenants/ttl-cache.js';

let azurite: Azurite;
const tables: Record<string, TableClient> = {};

beforeAll(async () => {
  azurite = await startAzurite({ blobPort: 0, queuePort: 0, tablePort: 0 });
  for (const name of ['tenants', 'apikeys', 'tenantconfig', 'optouts', 'packages']) {
    tables[name] = TableClient.fromConnectionString(azurite.connectionString, name, {
      allowInsecureConnection: true,
    });
    await tables[name].createTable();
  }
});
afterAll(() => azurite?.stop());

describe('TenantStore', () => {
  it('creates the dev tenant idempotently and resolves its key; stores only the hash', async () => {
    const store = new TenantStore(tables.tenants!, tables.apikeys!, 0);
    await ensureDevTenant(store, 'dev-key-0123456789abcdef');
    const again = await ensureDevTenant(store, 'dev-key-0123456789abcdef');
    expect(again).toEqual({ tenant: 'dev', key: 'dev-key-0123456789abcdef' });
    expect((await store.tenantForKey('dev-key-0123456789abcdef'))?.id).toBe('dev');
    const rows = [];
    for await (const row of tables.apikeys!.listEntities()) rows.push(row);
    expect(rows.map((r) => r.rowKey)).toEqual([hashKey('dev-key-0123456789abcdef')]);
  });

  it.each([
    [{}, 401, 'AUTH_REQUIRED'],
    [{ authorization: 'Bearer nope-nope-nope' }, 401, 'AUTH_INVALID'],
    [{ 'x-api-key': 'disabled-key-0123456789' }, 403, 'FORBIDDEN'],
  ])('authenticate %o -> %i %s', async (headers, status, code) => {
    const store = new TenantStore(tables.tenants!, tables.apikeys!, 0);
    await store.putTenant('off', {}, true);
    await store.addKey('off', 'disabled-key-0123456789');
    expect(await authenticateTenant(new Headers(headers), store)).toMatchObject({ ok: false, status, code });
  });

  it('keeps known keys cached while a spray of random keys goes by', async () => {
    const store = new TenantStore(tables.tenants!, tables.apikeys!, 30, Date.now, 50);
    await store.putTenant('sprayed');
    await store.addKey('sprayed', 'real-key-0123456789abcdef');
    expect((await store.tenantForKey('real-key-0123456789abcdef'))?.id).toBe('sprayed');
    for (let i = 0; i < 200; i++)
      expect(await store.tenantForKey(`random-key-${i}-0123456789`)).toBeUndefined();
    // The key's row is gone from the table: only the cache can still answer, and it does.
    await tables.apikeys!.deleteEntity('key', hashKey('real-key-0123456789abcdef'));
    expect((await store.tenantForKey('real-key-0123456789abcdef'))?.id).toBe('sprayed');
  });

  it('caches lookups for CONFIG_CACHE_SECONDS', async () => {
    let t = 0;
    const store = new TenantStore(tables.tenants!, tables.apikeys!, 30, () => t);
    await store.putTenant('c1', { sensitiveFields: ['email'] });
    expect((await store.getTenant('c1'))?.policy.sensitiveFields).toEqual(['email']);
    await new TenantStore(tables.tenants!, tables.apikeys!, 0).putTenant('c1', {
      sensitiveFields: ['phone'],
    });
    expect((await store.getTenant('c1'))?.policy.sensitiveFields).toEqual(['email']);
    t = 31_000;
    expect((await store.getTenant('c1'))?.policy.sensitiveFields).toEqual(['phone']);
  });
});

const whole = { blocklist: [], sampling: {}, uploadIntervalSeconds: 60, optOut: false };

describe('ConfigStore', () => {
  it('starts at version 0 with defaults; put bumps the version and the ETag', async () => {
    const store = new ConfigStore(tables.tenantconfig!, 0);
    const first = await store.get('t1');
    expect(first).toEqual({ version: 0, etag: '"t1-v0"', config: whole });
    const saved = await store.put('t1', { ...whole, blocklist: ['debug.*'], sampling: { view: 0.5 } });
    expect(saved.version).toBe(1);
    expect(saved.etag).toBe('"t1-v1"');
    expect((await store.get('t1')).config.blocklist).toEqual(['debug.*']);
    await expect(store.put('t1', whole, '"t1-v0"')).rejects.toMatchObject({
      status: 412,
      code: 'PRECONDITION_FAILED',
    });
    expect((await store.put('t1', whole, '"t1-v1"')).version).toBe(2);
  });

  it('PUT needs the whole document: a field left out is refused, never reset silently', async () => {
    const store = new ConfigStore(tables.tenantconfig!, 0);
    await store.put('t3', { ...whole, optOut: true, uploadIntervalSeconds: 300 });
    await expect(store.put('t3', { blocklist: ['x'] })).rejects.toMatchObject({
      status: 400,
      code: 'CONFIG_INVALID',
      message:
        'sampling is missing: PUT replaces the whole config: send every field, or PATCH to change some',
    });
    expect((await store.get('t3')).config).toEqual({ ...whole, optOut: true, uploadIntervalSeconds: 300 });
  });

  it('PATCH merges (RFC 7386): fields left out keep their values, null removes a sampling rule', async () => {
    const store = new ConfigStore(tables.tenantconfig!, 0);
    await store.put('t4', {
      ...whole,
      blocklist: ['a'],
      sampling: { view: 0.5, 'debug.*': 0 },
      optOut: true,
    });
    const patched = await store.patch('t4', { blocklist: ['b'], sampling: { view: null, fault: 1 } });
    expect(patched.config).toEqual({
      blocklist: ['b'],
      sampling: { 'debug.*': 0, fault: 1 },
      uploadIntervalSeconds: 60,
      optOut: true,
    });
    expect(patched.version).toBe(2);
    await expect(store.patch('t4', { uploadIntervalSeconds: 1 })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await expect(store.patch('t4', JSON.parse('{"__proto__": {"optOut": false}}'))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await expect(store.patch('t4', [1])).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect((await store.get('t4')).version).toBe(2);
  });

  it.each([
    [{ ...whole, blocklist: ['de*bug'] }],
    [{ ...whole, sampling: { view: 2 } }],
    [{ ...whole, sampling: { 'de*bug': 0.5 } }],
    [{ ...whole, uploadIntervalSeconds: 1 }],
    [{ ...whole, unknown: true }],
  ])('rejects %o with 400 CONFIG_INVALID', async (input) => {
    await expect(new ConfigStore(tables.tenantconfig!, 0).put('t2', input)).rejects.toMatchObject({
      status: 400,
      code: 'CONFIG_INVALID',
    });
  });
});

describe('stored config or policy that no longer parses', () => {
  it.each([
    ['not JSON', '{"blocklist":['],
    ['an opt-out that is not a boolean', JSON.stringify({ ...whole, optOut: 'yes' })],
  ])(
    'refuses a config that is %s (503), never serving defaults; PUT replaces it, PATCH cannot',
    async (_l, text) => {
      const store = new ConfigStore(tables.tenantconfig!, 0);
      await tables.tenantconfig!.upsertEntity(
        { partitionKey: 'broken', rowKey: 'config', config: text, version: 4 },
        'Replace',
      );
      await expect(store.get('broken')).rejects.toMatchObject({
        status: 503,
        code: 'TENANT_CONFIG_UNREADABLE',
        message: expect.stringContaining('The stored config of tenant broken does not parse'),
      });
      await expect(store.patch('broken', { optOut: false })).rejects.toMatchObject({
        code: 'TENANT_CONFIG_UNREADABLE',
      });
      expect((await store.put('broken', { ...whole, optOut: true })).version).toBe(5);
      expect((await store.get('broken')).config.optOut).toBe(true);
    },
  );

  it('refuses a tenant whose privacy policy no longer parses (503), never an empty policy', async () => {
    const store = new TenantStore(tables.tenants!, tables.apikeys!, 0);
    await tables.tenants!.upsertEntity(
      { partitionKey: 'tenant', rowKey: 'leaky', policy: '{"sensitiveFields":"email"}', disabled: false },
      'Replace',
    );
    await store.addKey('leaky', 'leaky-key-0123456789abcdef');
    await expect(store.tenantForKey('leaky-key-0123456789abcdef')).rejects.toMatchObject({
      status: 503,
      code: 'TENANT_POLICY_UNREADABLE',
    });
  });
});

describe('OptOutStore and PackageStore', () => {
  it('lists opt-outs per tenant', async () => {
    const store = new OptOutStore(tables.optouts!, 0);
    await store.add('t1', 'aaaa');
    await store.add('t2', 'bbbb');
    expect([...(await store.list('t1'))]).toEqual(['aaaa']);
  });

  it('round-trips package stats', async () => {
    const store = new PackageStore(tables.packages!, 30);
    const stats = {
      id: 'p1',
      tenant: 't1',
      source: 's',
      kind: 'spool',
      status: 'completed' as const,
      receivedAt: '2026-11-22T10:00:00.000Z',
      completedAt: '2026-11-22T10:00:01.000Z',
      totalLines: 3,
      accepted: 2,
      rejected: 1,
      dropped: 0,
      errors: [{ index: 2, code: 'EVENT_MALFORMED' as const, path: '', message: 'bad' }],
    };
    await store.save(stats);
    expect(await store.get('t1', 'p1')).toEqual(stats);
    expect(await store.get('t2', 'p1')).toBeUndefined();
  });
});

describe('PackageStore claims', () => {
  it('lets one upload claim a package id: a second claim, or one over a changed row, loses', async () => {
    const store = new PackageStore(tables.packages!, 30);
    const stats = {
      id: 'k0123',
      tenant: 'claims',
      source: 's',
      kind: 'spool',
      status: 'receiving' as const,
      receivedAt: '2026-11-22T10:00:00.000Z',
      totalLines: 0,
      accepted: 0,
      rejected: 0,
      dropped: 0,
      errors: [],
      idempotencyKey: 'file-1',
    };
    expect(await store.claim(stats)).toBe(true);
    expect(await store.claim(stats)).toBe(false);
    const found = await store.find('claims', 'k0123');
    expect(found?.stats).toEqual(stats);
    await store.save({ ...stats, status: 'failed' });
    expect(await store.claim(stats, found!.etag)).toBe(false); // the row changed since it was read
    const failed = await store.find('claims', 'k0123');
    expect(await store.claim({ ...stats, receivedAt: '2026-11-22T11:00:00.000Z' }, failed!.etag)).toBe(true);
  });
});

describe('PackageStore retention', () => {
  const stats = (id: string, receivedAt: string) => ({
    id,
    tenant: 'keep',
    source: 's',
    kind: 'spool',
    status: 'completed' as const,
    receivedAt,
    totalLines: 0,
    accepted: 0,
    rejected: 0,
    dropped: 0,
    errors: [],
  });

  it('expires statistics older than PACKAGE_RETENTION_DAYS, reading only what expired, at most hourly', async () => {
    let now = Date.parse('2026-11-01T12:00:00.000Z');
    const store = new PackageStore(tables.packages!, 30, () => now);
    await store.save(stats('old', '2026-11-01T12:00:00.000Z'));
    await store.save(stats('recent', '2026-11-20T08:00:00.000Z'));
    expect(await store.expire()).toBe(0); // nothing is 30 days old yet
    now = Date.parse('2026-12-01T23:30:00.000Z'); // 30.5 days after 'old': its day is not over 30 days ago
    expect(await store.expire()).toBe(0);
    now = Date.parse('2026-12-02T00:30:00.000Z'); // a day and 30 days later: every package of that day is older
    expect(await store.expire()).toBe(1);
    expect(await store.get('keep', 'old')).toBeUndefined();
    expect((await store.get('keep', 'recent'))?.id).toBe('recent');
    const left = [];
    for await (const row of tables.packages!.listEntities({
      queryOptions: { filter: "PartitionKey ge '~'" },
    }))
      if (row.rowKey!.startsWith('keep~')) left.push(`${row.partitionKey}/${row.rowKey}`);
    expect(left).toEqual(['~expires~20261120/keep~recent']);
    now += 30 * 60_000;
    await store.save(stats('old2', '2026-10-01T00:00:00.000Z'));
    expect(await store.expire()).toBe(0); // within the hour: not run again
  });
});

describe('TtlCache', () => {
  it('when full, drops the oldest entry, not all of them', async () => {
    const cache = new TtlCache<string>(30_000, Date.now, 3);
    for (const k of ['a', 'b', 'c', 'd']) await cache.get(k, async () => k.toUpperCase());
    expect(['a', 'b', 'c', 'd'].map((k) => cache.has(k))).toEqual([false, true, true, true]);
  });

  it('does not keep what `keep` refuses, nor a failed load', async () => {
    const cache = new TtlCache<string | undefined>(30_000);
    expect(
      await cache.get(
        'unknown',
        async () => undefined,
        (v) => v !== undefined,
      ),
    ).toBeUndefined();
    expect(cache.has('unknown')).toBe(false);
    await expect(cache.get('down', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(cache.has('down')).toBe(false);
    await cache.get(
      'known',
      async () => 'yes',
      (v) => v !== undefined,
    );
    expect(cache.has('known')).toBe(true);
  });
});
