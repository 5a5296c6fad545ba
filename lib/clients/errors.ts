/**
 * Whether an Azure SDK error has one of these HTTP statuses: RestError (and Storage, Tables)
 * carry `statusCode`, Cosmos DB's ErrorResponse a numeric `code`.
 */
export function isStatus(err: unknown, ...statuses: number[]): boolean {
  const e = err as { statusCode?: number; code?: unknown } | undefined;
  const status = e?.statusCode ?? (typeof e?.code === 'number' ? e.code : undefined);
  return status !== undefined && statuses.includes(status);
}

/** A short, loggable reason for a failed dependency call (Azure SDK errors carry code and status). */
export function describeError(err: unknown): string {
  const e = err as { code?: string; statusCode?: number; message?: string };
  const parts = [e.code, e.statusCode && `HTTP ${e.statusCode}`].filter(Boolean);
  const message = (e.message ?? String(err)).split('\n')[0]!.slice(0, 300);
  return parts.length ? `${parts.join(', ')}: ${message}` : message;
}
