/** Whether an Azure SDK error (RestError, or any error with `statusCode`) has one of these HTTP statuses. */
export function isStatus(err: unknown, ...statuses: number[]): boolean {
  const status = (err as { statusCode?: number } | undefined)?.statusCode;
  return status !== undefined && statuses.includes(status);
}
