import type { BodySource } from '../ingest/body.js';

/** What the HTTP handlers read from a Functions HttpRequest (fetch's Request fits too). */
export interface ApiRequest {
  method?: string;
  url?: string;
  headers: Headers;
  body: BodySource | null;
  params?: Record<string, string>;
  query?: URLSearchParams;
}

/**
 * Where a handler logs: the invocation's context (InvocationContext fits), so every line can be
 * traced to its invocation.
 */
export interface RequestLog {
  invocationId: string;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}
