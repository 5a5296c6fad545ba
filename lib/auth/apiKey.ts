/** Where a caller's key comes from, for tenant and admin keys alike. */
export interface HeaderSource {
  get(name: string): string | null;
}

/** The caller's key from `Authorization: Bearer <key>` or `x-api-key`. */
export function apiKeyFrom(headers: HeaderSource): string | undefined {
  const auth = headers.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  return headers.get('x-api-key')?.trim() || undefined;
}

/** A refused key check: the status and code a client keys on, and what to do about it. */
export interface Denied {
  ok: false;
  status: 401 | 403;
  code: string;
  message: string;
}

/** The JSON answer to a request that failed a key check. */
export function deniedResponse(auth: Denied) {
  return { status: auth.status, jsonBody: { code: auth.code, message: auth.message } };
}
