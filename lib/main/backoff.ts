import { z } from 'zod';

/**
 * Back-off after a dependency failure: the first failure waits one base period (one timer tick),
 * each further failure doubles it, up to `maxMs`. Pure, so it is tested with plain numbers.
 */
export const BackoffSchema = z.object({
  /** `main` (the watermark: landing table, Event Hubs) or a pipeline name (its index reads, queue, cursor). */
  scope: z.string(),
  failures: z.number().int().min(1),
  /** Epoch ms before which the scope is not tried again. */
  retryAtMs: z.number(),
  sinceMs: z.number(),
  reason: z.string(),
});
export type Backoff = z.infer<typeof BackoffSchema>;

export const backoffBaseMs = 60_000;

export function backoffDelayMs(failures: number, maxMs: number, baseMs = backoffBaseMs): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

export function nextBackoff(
  previous: Backoff | undefined,
  scope: string,
  reason: string,
  nowMs: number,
  maxMs: number,
): Backoff {
  const failures = (previous?.failures ?? 0) + 1;
  return {
    scope,
    failures,
    retryAtMs: nowMs + backoffDelayMs(failures, maxMs),
    sinceMs: previous?.sinceMs ?? nowMs,
    reason,
  };
}

export function isBackingOff(backoff: Backoff | undefined, nowMs: number): backoff is Backoff {
  return backoff !== undefined && nowMs < backoff.retryAtMs;
}
