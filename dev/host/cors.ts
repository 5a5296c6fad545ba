/**
 * CORS as `func start` applies `local.settings.json` `Host.CORS` / `Host.CORSCredentials` (ASP.NET Core's
 * CORS middleware in front of every route, any method and header allowed): a preflight is answered
 * `204` by the middleware itself, with the `Access-Control-*` headers when the origin is allowed and
 * without them otherwise; an actual request from an allowed origin gets `Access-Control-Allow-Origin`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface CorsPolicy {
  /** `*` for any origin, else the allowed origins (lower case, no trailing slash). */
  origins: '*' | ReadonlySet<string>;
  credentials: boolean;
}

const normalise = (origin: string) => origin.trim().toLowerCase().replace(/\/+$/, '');

/**
 * The policy of `Host.CORS` (comma-separated origins, `*` for any) and `Host.CORSCredentials`;
 * undefined when CORS is not configured (no CORS headers, as with `func start`).
 */
export function corsPolicy(cors: string | undefined, credentials = false): CorsPolicy | undefined {
  const origins = (cors ?? '').split(',').map(normalise).filter(Boolean);
  if (origins.length === 0) return undefined;
  if (origins.includes('*')) {
    if (credentials) {
      throw new Error(
        "local.settings.json: Host.CORSCredentials cannot be true while Host.CORS is '*' " +
          '(browsers refuse credentials with a wildcard origin): list the allowed origins instead.',
      );
    }
    return { origins: '*', credentials };
  }
  return { origins: new Set(origins), credentials };
}

function allowedOrigin(policy: CorsPolicy, origin: string): string | undefined {
  if (policy.origins === '*') return '*';
  return policy.origins.has(normalise(origin)) ? origin : undefined;
}

function allowOriginHeaders(policy: CorsPolicy, allowed: string): Record<string, string> {
  return {
    'access-control-allow-origin': allowed,
    ...(allowed === '*' ? {} : { vary: 'Origin' }),
    ...(policy.credentials ? { 'access-control-allow-credentials': 'true' } : {}),
  };
}

/**
 * Applies the policy to a request: answers a preflight (returns true: nothing more to do), or sets the
 * headers an actual cross-origin request gets on whatever response follows.
 */
export function applyCors(
  policy: CorsPolicy | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): boolean {
  const origin = req.headers.origin;
  if (!policy || origin === undefined) return false;
  const allowed = allowedOrigin(policy, origin);
  const requestedMethod = req.headers['access-control-request-method'];
  if (req.method === 'OPTIONS' && requestedMethod !== undefined) {
    const requestedHeaders = req.headers['access-control-request-headers'];
    res.writeHead(
      204,
      allowed === undefined
        ? {}
        : {
            ...allowOriginHeaders(policy, allowed),
            'access-control-allow-methods': requestedMethod,
            ...(requestedHeaders ? { 'access-control-allow-headers': requestedHeaders } : {}),
          },
    );
    res.end();
    return true;
  }
  if (allowed !== undefined) {
    for (const [name, value] of Object.entries(allowOriginHeaders(policy, allowed)))
      res.setHeader(name, value);
  }
  return false;
}
