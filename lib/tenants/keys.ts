import { createHash, randomBytes } from 'node:crypto';

/** Keys are stored as SHA-256 hex only: a leaked table does not leak usable keys. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new random API key (URL-safe, 256 bits). */
export function generateKey(): string {
  return randomBytes(32).toString('base64url');
}

/** The caller's key from `Authorization: Bearer <key>` or `x-api-key`. */
export function apiKeyFrom(headers: { get(name: string): string | null }): string | undefined {
  const auth = headers.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  return headers.get('x-api-key')?.trim() || undefined;
}
