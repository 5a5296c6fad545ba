import { withDeadline } from '../ingest/deadline.js';
import { IngestError } from '../ingest/errors.js';
import { RETRY_AFTER_SECONDS } from '../ingest/publisher.js';
import { TenantError } from '../tenants/errors.js';

/**
 * A call to Table storage (keys, config, package statistics). A store that fails, or a read that
 * does not answer within `deadlineMs`, is a 503 with Retry-After (logged by the error response),
 * never a 500 after the SDK's retries; a store's own refusals (TenantError) pass through. Writes
 * take no deadline: an answer never comes before it is known whether they happened.
 */
export async function fromStorage<T>(work: () => Promise<T>, deadlineMs?: number): Promise<T> {
  try {
    // Reads are shared between requests (the stores' caches), so they are not aborted: only the wait ends.
    return deadlineMs === undefined ? await work() : await withDeadline(deadlineMs, () => work());
  } catch (err) {
    if (err instanceof TenantError || err instanceof IngestError) throw err;
    throw new IngestError(
      'STORAGE_UNAVAILABLE',
      `Table storage did not answer in time or failed (${(err as Error).message}): retry later`,
      { 'retry-after': String(RETRY_AFTER_SECONDS) },
      err,
    );
  }
}
