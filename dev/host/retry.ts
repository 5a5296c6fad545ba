import type { RetryOptions } from './core.js';

const seconds = (d: { seconds?: number } | undefined, fallback: number) => (d?.seconds ?? fallback) * 1000;

/**
 * The delay before retry number `attempt` (1-based), or undefined when the function's retry
 * policy is exhausted. Mirrors the host's fixedDelay / exponentialBackoff strategies;
 * maxRetryCount -1 retries forever.
 */
export function retryDelay(options: RetryOptions | undefined, attempt: number): number | undefined {
  if (!options) return undefined;
  if (options.maxRetryCount !== -1 && attempt > options.maxRetryCount) return undefined;
  const strategy = options.retryStrategy ?? options.strategy;
  if (strategy === 'fixedDelay') return seconds(options.delayInterval, 0);
  const min = seconds(options.minimumInterval, 1);
  const max = seconds(options.maximumInterval, 15 * 60);
  return Math.min(max, min * 2 ** (attempt - 1));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
