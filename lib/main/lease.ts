import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { isStatus } from '../clients/errors.js';

/**
 * The guard that lets only one main run work at a time: a blob lease, renewed while the run
 * works. A run that cannot get it exits at once; a crashed run's lease expires after
 * `durationSeconds`, so the next run is never blocked for long.
 */
export interface RunLease {
  /** True once a renewal failed: another run may now hold the lease, so stop working. */
  readonly lost: boolean;
  release(): Promise<void>;
}

export const leaseSeconds = 60;

export async function tryAcquireLease(
  container: ContainerClient,
  blobName: string,
  durationSeconds = leaseSeconds,
): Promise<RunLease | undefined> {
  const blob = container.getBlockBlobClient(blobName);
  const client = blob.getBlobLeaseClient();
  try {
    await client.acquireLease(durationSeconds);
  } catch (err) {
    if (isStatus(err, 409)) return undefined; // LeaseAlreadyPresent: another run holds it.
    if (!isStatus(err, 404)) throw err;
    await ensureBlob(blob);
    try {
      await client.acquireLease(durationSeconds);
    } catch (again) {
      if (isStatus(again, 409)) return undefined;
      throw again;
    }
  }
  let lost = false;
  const timer = setInterval(
    () => {
      client.renewLease().catch(() => {
        lost = true;
      });
    },
    (durationSeconds * 1000) / 3,
  );
  timer.unref();
  return {
    get lost() {
      return lost;
    },
    async release() {
      clearInterval(timer);
      // If release fails the lease simply expires.
      await client.releaseLease().catch(() => {});
    },
  };
}

/** The lease blob, created on first use (its container is provisioned with the app's resources). */
async function ensureBlob(blob: BlockBlobClient): Promise<void> {
  await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } }).catch((err) => {
    // Another instance created it first: fine, the lease decides who runs.
    if (!isStatus(err, 409, 412)) throw err;
  });
}
