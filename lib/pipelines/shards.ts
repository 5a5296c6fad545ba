import type { BlockRef } from './task.js';

/**
 * NDJSON compresses about 20:1; blocks landed before the index recorded `rawBytes` are sized
 * with this ratio, which errs towards smaller shards.
 */
const assumedRatio = 20;

/** A block's uncompressed size, as recorded by landing (estimated for older entries). */
export function rawBytesOf(block: Pick<BlockRef, 'bytes' | 'rawBytes'>): number {
  return block.rawBytes ?? block.bytes * assumedRatio;
}

const byPartitionThenSeq = (a: BlockRef, b: BlockRef) =>
  a.partition.localeCompare(b.partition, 'en', { numeric: true }) ||
  a.firstSequenceNumber - b.firstSequenceNumber;

/**
 * Splits one tenant's blocks of one state into shards of at most `maxBytes` uncompressed, the
 * same way every time for the same blocks: a partition's blocks stay together where they fit
 * (first-fit, largest first); a partition larger than the budget is cut into consecutive runs of
 * blocks; a single block larger than the budget is a shard of its own. Blocks within a shard, and
 * shards, are in (partition, sequence number) order. A small tenant gets one shard.
 */
export function shardBlocks(blocks: readonly BlockRef[], maxBytes: number): BlockRef[][] {
  const sorted = [...blocks].sort(byPartitionThenSeq);
  const total = sorted.reduce((n, b) => n + rawBytesOf(b), 0);
  if (total <= maxBytes) return sorted.length ? [sorted] : [];

  // Units: a partition's blocks, or consecutive runs of them when the partition is too large.
  const units: { blocks: BlockRef[]; bytes: number }[] = [];
  let current: { blocks: BlockRef[]; bytes: number } | undefined;
  for (const block of sorted) {
    const size = rawBytesOf(block);
    const samePartition = current?.blocks[0]?.partition === block.partition;
    if (!current || !samePartition || current.bytes + size > maxBytes) {
      current = { blocks: [], bytes: 0 };
      units.push(current);
    }
    current.blocks.push(block);
    current.bytes += size;
  }
  // First-fit decreasing; ties keep (partition, sequence) order, so the result is deterministic.
  const order = units.map((u, i) => ({ ...u, i })).sort((a, b) => b.bytes - a.bytes || a.i - b.i);
  const shards: { blocks: BlockRef[]; bytes: number }[] = [];
  for (const unit of order) {
    const fit = shards.find((s) => s.bytes + unit.bytes <= maxBytes);
    if (fit) {
      fit.blocks.push(...unit.blocks);
      fit.bytes += unit.bytes;
    } else {
      shards.push({ blocks: [...unit.blocks], bytes: unit.bytes });
    }
  }
  const out = shards.map((s) => s.blocks.sort(byPartitionThenSeq));
  return out.sort((a, b) => byPartitionThenSeq(a[0]!, b[0]!));
}
