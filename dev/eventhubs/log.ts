/**
 * The append-only log of one partition. Events live in segments; with a folder each segment is a file of
 * framed records, written with one `writev` per tick, and the index (sequence number → offset, time, file
 * position) stays in memory for positioned reads. Without a folder the same structure is kept in memory.
 *
 * Record frame: u32 payload length, u32 crc32 (of the rest of the frame), f64 sequence number,
 * f64 enqueued time (ms), u16 insert position of delivery annotations, u16 reserved, payload.
 * The offset of an event is the byte position of its frame in the partition's stream.
 */
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { type Stamped, stamp } from './message.js';

const frameHeader = 28;

export interface LogOptions {
  /** Folder of this partition's segments; omit to keep everything in memory. */
  dir?: string;
  retentionMs: number;
  retentionBytes: number;
  /** Size at which a new segment is started. */
  segmentBytes?: number;
  /** With a folder: how many bytes of recent events to keep in memory for fast delivery. */
  cacheBytes?: number;
}

interface Segment {
  baseOffset: number;
  baseSeq: number;
  path: string | undefined;
  fd: number | undefined;
  /** Bytes in the segment, including frames not yet written. */
  size: number;
  count: number;
  lastTime: number;
  pending: Buffer[];
}

export interface StoredEvent extends Stamped {
  sequenceNumber: number;
  offset: number;
  enqueuedTime: number;
}

export interface AppendItem {
  raw: Buffer;
  partitionKey: string | undefined;
}

function segmentName(baseOffset: number, baseSeq: number): string {
  return `${String(baseOffset).padStart(20, '0')}-${String(baseSeq).padStart(20, '0')}.seg`;
}

export class PartitionLog {
  /** Sequence number of the oldest retained event (== nextSeq when empty). */
  firstSeq = 0;
  nextSeq = 0;
  nextOffset = 0;
  lastEnqueuedTime = 0;
  private readonly segments: Segment[] = [];
  // Index of retained events, position i is sequence number firstSeq + i.
  private offsets: number[] = [];
  private times: number[] = [];
  private lengths: number[] = [];
  private inserts: number[] = [];
  private positions: number[] = [];
  private segs: Segment[] = [];
  private cache: (Buffer | undefined)[] = [];
  private cachedBytes = 0;
  private evictFrom = 0;
  private flushScheduled = false;
  private readonly listeners = new Set<() => void>();
  private readonly segmentBytes: number;
  private readonly cacheBytes: number;

  constructor(private readonly options: LogOptions) {
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    this.cacheBytes = options.cacheBytes ?? 64 * 1024 * 1024;
    if (options.dir) this.recover(options.dir);
    if (this.segments.length === 0) this.roll();
  }

  /** Whether events are written to files. */
  get persistent(): boolean {
    return this.options.dir !== undefined;
  }

  get isEmpty(): boolean {
    return this.firstSeq === this.nextSeq;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get lastOffset(): number {
    return this.isEmpty ? -1 : this.offsets[this.offsets.length - 1]!;
  }

  /** Calls `fn` after every append until the returned function is called. */
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  append(items: AppendItem[], now = Date.now()): void {
    if (items.length === 0) return;
    // Enqueued times never go backwards, so time lookups can binary search.
    const time = Math.max(now, this.lastEnqueuedTime);
    for (const item of items) {
      let seg = this.segments[this.segments.length - 1]!;
      if (seg.size >= this.segmentBytes) {
        seg = this.roll();
        this.enforceRetention(now);
      }
      const offset = this.nextOffset;
      const ev = stamp(
        item.raw,
        { sequenceNumber: this.nextSeq, offset, enqueuedTime: time, partitionKey: item.partitionKey },
        frameHeader,
      );
      const len = ev.bytes.length;
      if (seg.fd !== undefined) {
        const head = ev.frame;
        head.writeUInt32LE(len, 0);
        head.writeDoubleLE(this.nextSeq, 8);
        head.writeDoubleLE(time, 16);
        head.writeUInt16LE(ev.insertAt, 24);
        head.writeUInt16LE(0, 26);
        head.writeUInt32LE(crc32(ev.frame.subarray(8)), 4);
        seg.pending.push(ev.frame);
      }
      this.offsets.push(offset);
      this.times.push(time);
      this.lengths.push(len);
      this.inserts.push(ev.insertAt);
      this.positions.push(seg.size + frameHeader);
      this.segs.push(seg);
      this.cache.push(ev.bytes);
      this.cachedBytes += len;
      seg.size += frameHeader + len;
      seg.count++;
      seg.lastTime = time;
      this.nextSeq++;
      this.nextOffset += frameHeader + len;
    }
    this.lastEnqueuedTime = time;
    if (this.options.dir) this.scheduleFlush();
    for (const fn of this.listeners) fn();
  }

  /** The retained event with this sequence number. */
  get(seq: number): StoredEvent {
    const i = seq - this.firstSeq;
    if (i < 0 || i >= this.offsets.length) throw new RangeError(`Sequence number ${seq} is not retained`);
    let bytes = this.cache[i];
    if (!bytes) {
      const seg = this.segs[i]!;
      bytes = Buffer.allocUnsafe(this.lengths[i]!);
      readSync(seg.fd!, bytes, 0, bytes.length, this.positions[i]!);
    }
    return {
      bytes,
      insertAt: this.inserts[i]!,
      sequenceNumber: seq,
      offset: this.offsets[i]!,
      enqueuedTime: this.times[i]!,
    };
  }

  /** First sequence number whose offset is after (or at, when inclusive) `offset`. */
  seqAfterOffset(offset: number, inclusive: boolean): number {
    return this.firstSeq + this.lowerBound(this.offsets, offset, inclusive);
  }

  /** First sequence number enqueued after (or at) `time`. */
  seqAfterTime(time: number, inclusive: boolean): number {
    return this.firstSeq + this.lowerBound(this.times, time, inclusive);
  }

  private lowerBound(values: number[], x: number, inclusive: boolean): number {
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = values[mid]!;
      if (inclusive ? v < x : v <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drops whole segments older than the retention period or beyond the size limit. */
  enforceRetention(now = Date.now()): void {
    const cutoff = now - this.options.retentionMs;
    let total = 0;
    for (const s of this.segments) total += s.size;
    while (this.segments.length > 0) {
      const oldest = this.segments[0]!;
      const expired = oldest.count > 0 && oldest.lastTime < cutoff;
      const oversize = total > this.options.retentionBytes && this.segments.length > 1;
      if (!expired && !oversize) break;
      // Keep an (empty) active segment so the next sequence number and offset survive a restart.
      if (this.segments.length === 1) this.roll();
      this.dropOldest();
      total -= oldest.size;
    }
  }

  private dropOldest(): void {
    const seg = this.segments.shift()!;
    const n = seg.count;
    for (let i = 0; i < n; i++) if (this.cache[i]) this.cachedBytes -= this.lengths[i]!;
    this.offsets.splice(0, n);
    this.times.splice(0, n);
    this.lengths.splice(0, n);
    this.inserts.splice(0, n);
    this.positions.splice(0, n);
    this.segs.splice(0, n);
    this.cache.splice(0, n);
    this.evictFrom = Math.max(0, this.evictFrom - n);
    this.firstSeq += n;
    if (seg.fd !== undefined) {
      this.writePending(seg);
      closeSync(seg.fd);
      rmSync(seg.path!, { force: true });
    }
  }

  private roll(): Segment {
    const prev = this.segments[this.segments.length - 1];
    if (prev?.fd !== undefined) this.writePending(prev);
    let path: string | undefined;
    let fd: number | undefined;
    if (this.options.dir) {
      path = join(this.options.dir, segmentName(this.nextOffset, this.nextSeq));
      fd = openSync(path, 'a+');
    }
    const seg: Segment = {
      baseOffset: this.nextOffset,
      baseSeq: this.nextSeq,
      path,
      fd,
      size: 0,
      count: 0,
      lastTime: 0,
      pending: [],
    };
    this.segments.push(seg);
    return seg;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes pending frames and trims the in-memory cache to its budget. */
  flush(): void {
    for (const seg of this.segments) if (seg.fd !== undefined) this.writePending(seg);
    if (!this.options.dir) return;
    while (this.cachedBytes > this.cacheBytes && this.evictFrom < this.cache.length) {
      if (this.cache[this.evictFrom]) {
        this.cachedBytes -= this.lengths[this.evictFrom]!;
        this.cache[this.evictFrom] = undefined;
      }
      this.evictFrom++;
    }
  }

  private writePending(seg: Segment): void {
    while (seg.pending.length > 0) {
      // writev takes at most IOV_MAX (1024) buffers at a time.
      const chunk = seg.pending.splice(0, 1024);
      let remaining = chunk.reduce((n, b) => n + b.length, 0);
      let written = writevSync(seg.fd!, chunk);
      while (written < remaining) {
        // Partial write: write the rest as one buffer.
        const rest = Buffer.concat(chunk).subarray(written);
        remaining = rest.length;
        written = writevSync(seg.fd!, [rest]);
      }
    }
  }

  close(): void {
    this.flush();
    for (const seg of this.segments) {
      if (seg.fd !== undefined) closeSync(seg.fd);
      seg.fd = undefined;
    }
    this.listeners.clear();
  }

  /** Rebuilds the index from the segment files; a torn or corrupt tail is cut off. */
  private recover(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir)
      .filter((n) => /^\d{20}-\d{20}\.seg$/.test(n))
      .sort();
    let first = true;
    for (const name of names) {
      const [o, s] = name.slice(0, -4).split('-');
      const path = join(dir, name);
      // Append mode: writes always go to the end, also after the torn tail was cut off.
      const fd = openSync(path, 'a+');
      const seg: Segment = {
        baseOffset: Number(o),
        baseSeq: Number(s),
        path,
        fd,
        size: 0,
        count: 0,
        lastTime: 0,
        pending: [],
      };
      if (first) {
        this.firstSeq = seg.baseSeq;
        first = false;
      }
      this.nextSeq = seg.baseSeq;
      this.nextOffset = seg.baseOffset;
      const good = this.scan(seg, fstatSync(fd).size);
      if (good < fstatSync(fd).size) ftruncateSync(fd, good);
      this.segments.push(seg);
    }
  }

  private scan(seg: Segment, fileSize: number): number {
    const chunkSize = 8 * 1024 * 1024;
    let buf = Buffer.allocUnsafe(chunkSize);
    let pos = 0;
    while (pos + frameHeader <= fileSize) {
      let n = readSync(seg.fd!, buf, 0, Math.min(buf.length, fileSize - pos), pos);
      let p = 0;
      let progressed = false;
      while (p + frameHeader <= n) {
        const len = buf.readUInt32LE(p);
        if (p + frameHeader + len > n) {
          if (p === 0 && pos + frameHeader + len <= fileSize) {
            // A frame larger than the read buffer: grow it and read again.
            buf = Buffer.allocUnsafe(frameHeader + len);
            n = readSync(seg.fd!, buf, 0, buf.length, pos);
            continue;
          }
          break;
        }
        const frame = buf.subarray(p, p + frameHeader + len);
        if (crc32(frame.subarray(8)) !== frame.readUInt32LE(4)) {
          return pos + p;
        }
        const seq = frame.readDoubleLE(8);
        const time = frame.readDoubleLE(16);
        this.offsets.push(seg.baseOffset + pos + p);
        this.times.push(time);
        this.lengths.push(len);
        this.inserts.push(frame.readUInt16LE(24));
        this.positions.push(pos + p + frameHeader);
        this.segs.push(seg);
        this.cache.push(undefined);
        seg.count++;
        seg.size = pos + p + frameHeader + len;
        seg.lastTime = time;
        this.nextSeq = seq + 1;
        this.nextOffset = seg.baseOffset + seg.size;
        this.lastEnqueuedTime = Math.max(this.lastEnqueuedTime, time);
        p += frameHeader + len;
        progressed = true;
      }
      if (!progressed) return pos;
      pos += p;
    }
    return pos;
  }
}
