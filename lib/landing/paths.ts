import { stateIdOf, statePartitionPath } from '../temporal/index.js';

/**
 * Where landing writes in the lake. Raw blocks are immutable once their state is closed; each has
 * an id sidecar at the same place under `ids/` (one event id per line, in block order), which
 * the workers read to find duplicates without reading the events themselves. The sidecars live
 * outside `raw/` so that readers of the raw zone (`raw/**`) see only NDJSON.
 */
export function blockPath(
  tenant: string,
  stateId: string,
  partition: string,
  first: number,
  last: number,
): string {
  return `raw/tenant=${tenant}/${statePartitionPath(stateId)}/${partition}-${first}-${last}.ndjson.gz`;
}

/** The id sidecar of a raw block. */
export function idsPath(rawBlockPath: string): string {
  if (!rawBlockPath.startsWith('raw/') || !rawBlockPath.endsWith('.ndjson.gz')) {
    throw new Error(`'${rawBlockPath}' is not a raw block path`);
  }
  return `ids/${rawBlockPath.slice(4, -'.ndjson.gz'.length)}.ids`;
}

/** The messages of one batch that could not be landed, one JSON line each with its reason. */
export function deadLetterPath(
  partition: string,
  first: number,
  last: number,
  enqueuedTimeMs: number,
): string {
  const stateId = stateIdOf(enqueuedTimeMs);
  return `deadletter/eventhub/${statePartitionPath(stateId)}/${partition}-${first}-${last}.ndjson`;
}
