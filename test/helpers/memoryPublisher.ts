import type { Pack } from '../../lib/ingest/pack.js';
import type { Publisher } from '../../lib/ingest/publisher.js';

/** An in-process publisher that keeps packs in memory. */
export function memoryPublisher(): Publisher & { packs: Pack[] } {
  const packs: Pack[] = [];
  return {
    packs,
    async publish(list) {
      packs.push(...list);
    },
  };
}
