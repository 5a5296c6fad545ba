import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  PseudonymCache,
  Pseudonymizer,
  privateCore,
  resolveUserKind,
  tenantKey,
} from '../../../lib/ingest/privacy.js';
import { emptyPolicy } from '../../../lib/tenants/policy.js';
import { privateFields } from '../../helpers/privateFields.js';

const secret = 'test-privacy-secret-0123456789';
const p = Pseudonymizer.forTenant(secret, 't1');
const expected = (v: string, tenant = 't1') =>
  createHmac('sha256', tenantKey(secret, tenant)).update(v).digest('hex').slice(0, 32);

describe('pseudonyms', () => {
  it('are HMAC-SHA-256 under the tenant key, hex, 32 chars, stable', () => {
    expect(p.pseudonym('alice')).toBe(expected('alice'));
    expect(p.pseudonym('alice')).toMatch(/^[0-9a-f]{32}$/);
    expect(p.pseudonym('alice')).toBe(p.pseudonym('alice'));
  });

  it('differ between tenants and between values', () => {
    expect(Pseudonymizer.forTenant(secret, 't2').pseudonym('alice')).toBe(expected('alice', 't2'));
    expect(Pseudonymizer.forTenant(secret, 't2').pseudonym('alice')).not.toBe(p.pseudonym('alice'));
    expect(p.pseudonym('bob')).not.toBe(p.pseudonym('alice'));
  });
});

describe('userKind', () => {
  const policy = compilePolicy({
    sensitiveFields: [],
    internalDomains: ['Contoso.com'],
    internalIds: ['dev-qa', 'u-qa'],
  });
  it.each([
    ['explicit external wins over lists', { deviceId: 'dev-qa', userKind: 'external' }, 'external'],
    ['a test claim alone is not believed', { deviceId: 'd', userKind: 'test' }, 'external'],
    [
      'an internal claim alone is not believed',
      { deviceId: 'd', userId: 'x@example.com', userKind: 'internal' },
      'external',
    ],
    [
      'an internal claim by a listed user is internal (by the list)',
      { deviceId: 'dev-qa', userKind: 'internal' },
      'internal',
    ],
    ['internal email domain', { deviceId: 'd', userId: 'Ann@contoso.COM' }, 'internal'],
    ['a look-alike domain is external', { deviceId: 'd', userId: 'ann@notcontoso.com' }, 'external'],
    ['internal device id', { deviceId: 'dev-qa' }, 'internal'],
    ['internal user id', { deviceId: 'd', userId: 'u-qa' }, 'internal'],
    ['default is external', { deviceId: 'd', userId: 'x@example.com' }, 'external'],
  ] as const)('%s', (_l, core, kind) => expect(resolveUserKind(core, policy)).toBe(kind));

  it("believes a client's internal or test claim only where the tenant's policy trusts client claims", () => {
    const trusting = compilePolicy({ ...emptyPolicy, trustClientUserKind: true });
    expect(resolveUserKind({ deviceId: 'd', userKind: 'test' }, trusting)).toBe('test');
    expect(resolveUserKind({ deviceId: 'd', userKind: 'internal' }, trusting)).toBe('internal');
    expect(resolveUserKind({ deviceId: 'd' }, trusting)).toBe('external');
    expect(resolveUserKind({ deviceId: 'd', userKind: 'internal' }, compilePolicy(emptyPolicy))).toBe(
      'external',
    );
  });
});

describe('privateCore and privateFields', () => {
  const policy = compilePolicy({
    sensitiveFields: ['email', 'locale'],
    internalDomains: [],
    internalIds: [],
  });
  const core = { deviceId: 'd1', userId: 'u1', sessionId: 's1', os: 'iOS', locale: 'de-DE' };

  it('hashes deviceId, userId, sessionId and listed core fields for external users', () => {
    expect(privateCore(core, 'external', policy, p)).toEqual({
      deviceId: expected('d1'),
      userId: expected('u1'),
      sessionId: expected('s1'),
      os: 'iOS',
      locale: expected('de-DE'),
      userKind: 'external',
    });
  });

  it.each(['internal', 'test'] as const)('keeps raw values for %s users', (kind) => {
    expect(privateCore(core, kind, policy, p)).toEqual({ ...core, userKind: kind });
  });

  it('hashes listed and seed fields in data and custom, without touching the input', () => {
    const custom = { email: 'a@b.c', count: 3, screen: 'home' };
    const data = { sessionId: 's1', userId: 42 };
    expect(privateFields(custom, policy, p)).toEqual({ email: expected('a@b.c'), count: 3, screen: 'home' });
    expect(privateFields(data, policy, p)).toEqual({ sessionId: expected('s1'), userId: expected('42') });
    expect(custom.email).toBe('a@b.c');
  });

  it('returns the same object when nothing is sensitive', () => {
    const custom = { screen: 'home' };
    expect(privateFields(custom, compilePolicy(emptyPolicy), p)).toBe(custom);
  });
});

describe('the pseudonym cache', () => {
  it('is bounded in bytes across tenants: a flood of distinct values evicts the oldest', () => {
    const cache = new PseudonymCache(64 * 1024);
    const tenants = [1, 2, 3].map((t) => new Pseudonymizer(tenantKey(secret, `t${t}`), cache));
    const values = Array.from({ length: 3000 }, (_, i) => `${'v'.repeat(200)}-${i}`);
    for (const value of values) for (const p of tenants) p.pseudonym(value);
    expect(cache.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.bytes).toBeGreaterThan(60 * 1024);
    // Still correct after evictions.
    expect(tenants[0]!.pseudonym(values[0]!)).toBe(expected(values[0]!, 't1'));
    expect(tenants[2]!.pseudonym(values[2999]!)).toBe(expected(values[2999]!, 't3'));
  });
});
