import { statePartitionPath } from '../../temporal/index.js';

/**
 * The curated zone, partitioned by event time (UTC): one file per (task, event hour), named
 * after the task's state and shard, so a rerun overwrites what it wrote before.
 */
export function curatedPath(
  tenant: string,
  date: string,
  hour: string,
  stateId: string,
  shard: number,
): string {
  return `curated/events/tenant=${tenant}/date=${date}/hour=${hour}/${stateId}-${shard}.parquet`;
}

/** The list of files a task wrote, so a rerun that writes fewer removes the rest. */
export function manifestPath(tenant: string, stateId: string, shard: number): string {
  return `${manifestPrefix(tenant, stateId)}${shard}.json`;
}

/** Every shard's manifest of a (state, tenant). */
export function manifestPrefix(tenant: string, stateId: string): string {
  return `manifests/curate/tenant=${tenant}/${stateId}-`;
}

/** What a task could not use (unreadable blocks, bad lines), one JSON object per line. */
export function curateDeadLetterPath(tenant: string, stateId: string, shard: number): string {
  return `deadletter/curate/tenant=${tenant}/${statePartitionPath(stateId)}/${stateId}-${shard}.ndjson`;
}
