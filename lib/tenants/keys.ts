import { createHash } from 'node:crypto';

/** Keys are stored as SHA-256 hex only: a leaked table does not leak usable keys. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
