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

const newline = 0x0a;

/**
 * The ids of one partition's own events, looked up by their bytes: an earlier block's sidecar is
 * scanned without making a string per id (the horizon holds many times the task's own ids).
 * Open addressing over FNV-1a; a hit is confirmed byte for byte, so the check is exact.
 */
class IdTable {
  readonly keys: IdKey[] = [];
  readonly index = new Map<IdKey, number>();
  private readonly bytes: Buffer[] = [];
  private slots = new Int32Array(16);
  private mask = 15;
  /** Per key: the smallest first sequence number of an outside block holding it. */
  earlier: Float64Array = new Float64Array(0);

  add(key: IdKey): void {
    if (this.index.has(key)) return;
    const bytes = Buffer.from(key, 'latin1');
    if ((this.keys.length + 1) * 2 > this.slots.length) this.grow();
    this.index.set(key, this.keys.length);
    this.keys.push(key);
    this.bytes.push(bytes);
    this.place(this.keys.length - 1);
  }

  /** Call once all keys are added. */
  seal(): void {
    this.earlier = new Float64Array(this.keys.length).fill(Number.POSITIVE_INFINITY);
  }

  find(buf: Buffer, start: number, end: number): number {
    let i = hash(buf, start, end) & this.mask;
    for (;;) {
      const slot = this.slots[i]!;
      if (slot === 0) return -1;
      const candidate = this.bytes[slot - 1]!;
      if (candidate.length === end - start && candidate.compare(buf, start, end) === 0) return slot - 1;
      i = (i + 1) & this.mask;
    }
  }

  private place(index: number): void {
    const b = this.bytes[index]!;
    let i = hash(b, 0, b.length) & this.mask;
    while (this.slots[i] !== 0) i = (i + 1) & this.mask;
    this.slots[i] = index + 1;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let k = 0; k < this.keys.length; k++) this.place(k);
  }
}

function hash(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}

/**
 * The duplicate rule, the same for every task whatever order tasks run in: an event is a
 * duplicate when the same id occurs earlier in the same Event Hubs partition within the horizon,
 * "earlier" meaning a smaller (state, sequence number, line). Ingest's partition key is tenant +
 * device, so a resent event (client retry, a 503 after a partial publish, a re-sent spool or
 * package) lands on the partition of its first copy; only that partition needs checking, which
 * is what keeps the check proportional to the task rather than to the tenant.
 *
 * Feed it the task's own blocks, then the id sidecar of every other block that could hold an
 * earlier copy (`addEarlier`): blocks of the same partitions in the horizon's earlier states, and
 * blocks of the same state that other shards cover.
 */
export class Deduper {
  private readonly tables = new Map<string, IdTable>();

  constructor(private readonly blocks: readonly OwnBlock[]) {
    for (const b of blocks) {
      const table = this.tables.get(b.partition) ?? new IdTable();
      this.tables.set(b.partition, table);
      for (const k of b.keys) if (k !== undefined) table.add(k);
    }
    for (const t of this.tables.values()) t.seal();
  }

  /** The partitions whose outside blocks matter. */
  get partitions(): string[] {
    return [...this.tables.keys()];
  }

  /**
   * The sidecar (one id per line) of a block outside the task: `firstSequenceNumber` of a block
   * in the same state, or -Infinity for a block of an earlier state (always earlier).
   */
  addEarlier(partition: string, firstSequenceNumber: number, sidecar: Buffer): void {
    const table = this.tables.get(partition);
    if (!table) return;
    for (let start = 0; start < sidecar.length; ) {
      let end = sidecar.indexOf(newline, start);
      if (end === -1) end = sidecar.length;
      if (end > start) {
        const k = table.find(sidecar, start, end);
        if (k >= 0 && firstSequenceNumber < table.earlier[k]!) table.earlier[k] = firstSequenceNumber;
      }
      start = end + 1;
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
      const table = this.tables.get(b.partition)!;
      const verdict = out[i]!;
      for (let line = 0; line < b.keys.length; line++) {
        const k = b.keys[line];
        if (k === undefined) verdict[line] = NO_ID;
        else if (seen.has(k)) verdict[line] = DUPLICATE;
        else {
          seen.add(k);
          if (table.earlier[table.index.get(k)!]! < b.firstSequenceNumber) verdict[line] = DUPLICATE;
        }
      }
    }
    return out;
  }
}
