import type { Pack } from '../../lib/ingest/pack.js';
import type { Publisher } from '../../lib/ingest/publisher.js';

/** An in-process publisher that keeps packs in memory, for a hub of `partitions` partitions. */
export function memoryPublisher(partitions = 4): Publisher & { packs: Pack[] } {
  const packs: Pack[] = [];
  const ids = Array.from({ length: partitions }, (_, i) => String(i));
  return {
    packs,
    async partitionIds() {
      return ids;
    },
    async publish(list) {
      packs.push(...list);
    },
  };
}
