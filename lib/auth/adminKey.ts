import { createHash, timingSafeEqual } from 'node:crypto';
import { apiKeyFrom, type Denied, type HeaderSource } from './apiKey.js';

export { deniedResponse } from './apiKey.js';

/**
 * The admin API key check, for every admin endpoint: `Authorization: Bearer <key>` or
 * `x-api-key: <key>`, compared in constant time against the TELEMETRY_ADMIN_KEY setting.
 */
export type AdminAuth =
  | { ok: true }
  | (Denied & { code: 'ADMIN_KEY_REQUIRED' | 'ADMIN_KEY_INVALID' | 'ADMIN_API_DISABLED' });

const digest = (value: string) => createHash('sha256').update(value).digest();

export function checkAdminKey(headers: HeaderSource, config: { TELEMETRY_ADMIN_KEY?: string }): AdminAuth {
  const key = apiKeyFrom(headers);
  if (!key) {
    return {
      ok: false,
      status: 401,
      code: 'ADMIN_KEY_REQUIRED',
      message: 'Send the admin key as `Authorization: Bearer <key>` or `x-api-key: <key>`',
    };
  }
  const expected = config.TELEMETRY_ADMIN_KEY;
  if (!expected) {
    return {
      ok: false,
      status: 403,
      code: 'ADMIN_API_DISABLED',
      message: 'The admin API is disabled: the TELEMETRY_ADMIN_KEY app setting is not set',
    };
  }
  // Hashing first gives equal lengths, so the comparison time does not depend on the key.
  if (!timingSafeEqual(digest(key), digest(expected))) {
    return { ok: false, status: 403, code: 'ADMIN_KEY_INVALID', message: 'The admin key is not valid' };
  }
  return { ok: true };
}
