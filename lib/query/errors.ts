/** A refused query: the status, a stable code clients key on, and what to change. */
export class QueryApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 503,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'QueryApiError';
  }
}

export const badRequest = (code: string, message: string) => new QueryApiError(400, code, message);
