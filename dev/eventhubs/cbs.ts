/**
 * Claims-based security: the `$cbs` put-token request. A SAS token is accepted when its key name is one
 * of the authorized keys, its signature matches that key and it has not expired, whatever token type
 * the request declares.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SharedAccessKey {
  name: string;
  key: string;
}

export interface TokenCheck {
  ok: boolean;
  status: number;
  description: string;
}

function parseSas(token: string): Map<string, string> | undefined {
  const prefix = 'SharedAccessSignature ';
  if (!token.startsWith(prefix)) return undefined;
  const fields = new Map<string, string>();
  for (const part of token.slice(prefix.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return fields;
}

export function checkSasToken(
  token: unknown,
  tokenType: unknown,
  keys: SharedAccessKey[],
  now = Date.now(),
): TokenCheck {
  const denied = (description: string): TokenCheck => ({ ok: false, status: 401, description });
  if (typeof token !== 'string') return denied('The put-token request carries no token string.');
  const fields = parseSas(token);
  // The token decides, not its declared type: the Python SDK declares its SAS tokens as 'jwt'.
  if (!fields) {
    return denied(
      `Unsupported token (declared type '${String(tokenType)}'): only SharedAccessSignature tokens are accepted, no Entra ID tokens.`,
    );
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  const skn = fields.get('skn');
  if (sr === undefined || sig === undefined || se === undefined || skn === undefined) {
    return denied('Malformed SharedAccessSignature token (needs sr, sig, se, skn).');
  }
  const keyName = decodeURIComponent(skn);
  const key = keys.find((k) => k.name === keyName);
  if (!key) return denied(`Unauthorized access: unknown SharedAccessKeyName '${keyName}'.`);
  if (Number(se) * 1000 < now) return denied('The SharedAccessSignature token has expired.');
  const expected = createHmac('sha256', key.key).update(`${sr}\n${se}`).digest();
  const given = Buffer.from(decodeURIComponent(sig), 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return denied(`Unauthorized access: the signature does not match key '${keyName}'.`);
  }
  return { ok: true, status: 202, description: 'Accepted' };
}
