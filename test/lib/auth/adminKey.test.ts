import { describe, expect, it } from 'vitest';
import { checkAdminKey } from '../../../lib/auth/adminKey.js';

const config = { TELEMETRY_ADMIN_KEY: 'the-admin-key-0123456789' };
const h = (headers: Record<string, string>) => new Headers(headers);

describe('admin key', () => {
  it('accepts the key as a bearer token or x-api-key', () => {
    expect(checkAdminKey(h({ authorization: 'Bearer the-admin-key-0123456789' }), config)).toEqual({
      ok: true,
    });
    expect(checkAdminKey(h({ 'x-api-key': 'the-admin-key-0123456789' }), config)).toEqual({ ok: true });
    expect(checkAdminKey(h({ authorization: 'bearer  the-admin-key-0123456789 ' }), config)).toEqual({
      ok: true,
    });
  });

  it('401 without a key, 403 with a wrong one or when the admin API has no key configured', () => {
    expect(checkAdminKey(h({}), config)).toMatchObject({
      ok: false,
      status: 401,
      code: 'ADMIN_KEY_REQUIRED',
    });
    expect(checkAdminKey(h({ authorization: 'Basic abc' }), config)).toMatchObject({ status: 401 });
    expect(checkAdminKey(h({ 'x-api-key': 'the-admin-key-012345678' }), config)).toMatchObject({
      status: 403,
      code: 'ADMIN_KEY_INVALID',
    });
    expect(checkAdminKey(h({ 'x-api-key': 'anything' }), {})).toMatchObject({
      status: 403,
      code: 'ADMIN_API_DISABLED',
    });
    expect(checkAdminKey(h({}), {})).toMatchObject({ ok: false, status: 401 });
  });
});
