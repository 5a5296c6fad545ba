import type { EventError } from './types.js';

/** Where a channel sends, and how it authenticates. */
export interface EndpointOptions {
  /** The app's base URL, e.g. `https://<app>.azurewebsites.net` (the client adds `/api/v1/...`). */
  endpoint: string;
  /** The tenant's API key, sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** The Functions key of an endpoint behind `authLevel: function`, sent as `x-functions-key`. */
  functionKey?: string;
  /** Extra headers on every request (proxies, tracing). */
  headers?: Record<string, string>;
  /** Per-request time limit in ms (default 30 s): a hung request counts as a network error. */
  requestTimeoutMs?: number;
}

/** What one POST of a batch came to. */
export type SendResult =
  | {
      kind: 'accepted';
      status: number;
      accepted: number;
      rejected: number;
      dropped: number;
      errors: EventError[];
    }
  | { kind: 'rejected'; status: number; code?: string; message: string; errors: EventError[] }
  | { kind: 'retry'; status?: number; retryAfterMs?: number; message: string };

export interface Transport {
  send(body: Uint8Array): Promise<SendResult>;
  getConfig(etag: string | undefined): Promise<{ status: number; etag?: string; body?: unknown }>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** A Retry-After longer than this is treated as this: a misconfigured proxy must not park a device for a year. */
const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** `Retry-After` as ms from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

function url(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}

async function jsonOf(response: Response): Promise<Record<string, unknown> | undefined> {
  try {
    const body = (await response.json()) as unknown;
    return typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const count = (v: unknown) => (typeof v === 'number' ? v : 0);
const errorsOf = (v: unknown) => (Array.isArray(v) ? (v as EventError[]) : []);

/** Turns a response into a verdict: 2xx done, 408/429/5xx retried, any other 4xx not retried. */
export async function classify(response: Response, now: number): Promise<SendResult> {
  const { status } = response;
  const body = await jsonOf(response);
  if (status >= 200 && status < 300) {
    return {
      kind: 'accepted',
      status,
      accepted: count(body?.accepted),
      rejected: count(body?.rejected),
      dropped: count(body?.dropped),
      errors: errorsOf(body?.errors),
    };
  }
  if (status === 408 || status === 429 || status >= 500) {
    return {
      kind: 'retry',
      status,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after'), now),
      message: `HTTP ${status}${typeof body?.message === 'string' ? `: ${body.message}` : ''}`,
    };
  }
  return {
    kind: 'rejected',
    status,
    code: typeof body?.code === 'string' ? body.code : undefined,
    message: typeof body?.message === 'string' ? body.message : `HTTP ${status}`,
    errors: errorsOf(body?.errors),
  };
}

/** `fetch` against one endpoint: gzip NDJSON batches to /api/v1/events, the config from /api/v1/config. */
export function httpTransport(options: EndpointOptions, clock: () => number = Date.now): Transport {
  const headers = (extra: Record<string, string>): Record<string, string> => ({
    ...options.headers,
    authorization: `Bearer ${options.apiKey}`,
    ...(options.functionKey && { 'x-functions-key': options.functionKey }),
    ...extra,
  });
  const timeout = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    async send(body) {
      try {
        const response = await fetch(url(options.endpoint, '/api/v1/events'), {
          method: 'POST',
          headers: headers({ 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }),
          body,
          signal: AbortSignal.timeout(timeout),
        });
        return await classify(response, clock());
      } catch (err) {
        return { kind: 'retry', message: `network error: ${(err as Error).message}` };
      }
    },
    async getConfig(etag) {
      const response = await fetch(url(options.endpoint, '/api/v1/config'), {
        headers: headers(etag ? { 'if-none-match': etag } : {}),
        signal: AbortSignal.timeout(timeout),
      });
      const body = response.status === 200 ? await jsonOf(response) : undefined;
      if (response.status !== 200) await response.body?.cancel();
      return { status: response.status, etag: response.headers.get('etag') ?? undefined, body };
    },
  };
}
