import type { IdKey } from '../../landing/ids.js';

/** One of the task's own blocks, with the id key of each line (undefined: the line has no id). */
export interface OwnBlock {
  partition: string;
  firstSequenceNumber: number;
  keys: readonly (IdKey | undefined)[];
}

export const KEEP = 0;
export const DUPLICATE = 1;
export const NO_ID = 2;

/**
 * The duplicate rule, the same for every task whatever order tasks run in: an event is a
 * duplicate when the same id occurs earlier in the same Event Hubs partition within the horizon,
 * "earlier" meaning a smaller (state, sequence number, line). Ingest's partition key is tenant +
 * device, so a resent event (client retry, a 503 after a partial publish, a re-sent spool or
 * package) lands on the partition of its first copy; only that partition needs checking, which
 * is what keeps the check proportional to the task rather than to the tenant.
 *
 * Feed it the task's own blocks, then every other block that could hold an earlier copy
 * (`addEarlier`): blocks of the same partitions in the horizon's earlier states, and blocks of
 * the same state that other shards cover. Only ids that occur in the task are remembered.
 */
export class Deduper {
  /** partition → id → smallest first sequence number of an outside block holding it. */
  private readonly earlier = new Map<string, Map<IdKey, number>>();
  private readonly own = new Map<string, Set<IdKey>>();

  constructor(private readonly blocks: readonly OwnBlock[]) {
    for (const b of blocks) {
      const set = this.own.get(b.partition) ?? new Set<IdKey>();
      this.own.set(b.partition, set);
      for (const k of b.keys) if (k !== undefined) set.add(k);
    }
  }

  /** The partitions whose outside blocks matter. */
  get partitions(): string[] {
    return [...this.own.keys()];
  }

  /**
   * Ids of a block outside the task: `firstSequenceNumber` of a block in the same state, or
   * -Infinity for a block of an earlier state (always earlier).
   */
  addEarlier(partition: string, firstSequenceNumber: number, keys: Iterable<IdKey>): void {
    const own = this.own.get(partition);
    if (!own) return;
    const seen = this.earlier.get(partition) ?? new Map<IdKey, number>();
    this.earlier.set(partition, seen);
    for (const k of keys) {
      if (!own.has(k)) continue;
      const prev = seen.get(k);
      if (prev === undefined || firstSequenceNumber < prev) seen.set(k, firstSequenceNumber);
    }
  }

  /** Per own block (in the order given), per line: KEEP, DUPLICATE or NO_ID. */
  verdicts(): Uint8Array[] {
    const out = this.blocks.map((b) => new Uint8Array(b.keys.length));
    const order = this.blocks
      .map((b, i) => ({ b, i }))
      .sort(
        (x, y) =>
          x.b.partition.localeCompare(y.b.partition) || x.b.firstSequenceNumber - y.b.firstSequenceNumber,
      );
    const seenByPartition = new Map<string, Set<IdKey>>();
    for (const { b, i } of order) {
      const seen = seenByPartition.get(b.partition) ?? new Set<IdKey>();
      seenByPartition.set(b.partition, seen);
      const earlier = this.earlier.get(b.partition);
      const verdict = out[i]!;
      for (let line = 0; line < b.keys.length; line++) {
        const k = b.keys[line];
        if (k === undefined) verdict[line] = NO_ID;
        else if (seen.has(k)) verdict[line] = DUPLICATE;
        else {
          seen.add(k);
          const e = earlier?.get(k);
          if (e !== undefined && e < b.firstSequenceNumber) verdict[line] = DUPLICATE;
        }
      }
    }
    return out;
  }
}
