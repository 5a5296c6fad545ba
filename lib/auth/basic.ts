import type { HeaderSource } from './apiKey.js';

/**
 * The user name of `Authorization: Basic` credentials (Segment's SDKs send their write key so,
 * with an empty password), or undefined when there are none.
 */
export function basicUser(headers: HeaderSource): string | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(headers.get('authorization') ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  return user.trim() || undefined;
}
