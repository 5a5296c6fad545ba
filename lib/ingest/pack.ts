import { promisify } from 'node:util';
import { constants, gzip, gzipSync, type ZlibOptions } from 'node:zlib';

/** One Event Hubs message: gzip NDJSON of events bound for one partition. */
export interface Pack {
  partitionId: string;
  body: Buffer;
  properties: { tenant: string; count: number; contentType: 'application/x-ndjson'; contentEncoding: 'gzip' };
}

export interface PackOptions {
  /** Largest gzip body (Event Hubs messages are at most 1 MB; ~256 KiB leaves room for batching). */
  maxPackBytes: number;
  /** Largest NDJSON before compression, which bounds what the lander inflates per message. */
  maxInflatedBytes: number;
  /** zlib level: 1 is several times faster than 6 for a few percent more bytes on telemetry. */
  gzipLevel: number;
}

export const defaultPackOptions: PackOptions = {
  maxPackBytes: 256 * 1024,
  maxInflatedBytes: 1024 * 1024,
  gzipLevel: 1,
};

/**
 * Lines are written as UTF-8 straight into chunks of about this size (no per-pack string join and
 * re-encode). In background mode each full chunk is compressed at once as its own gzip member on
 * the libuv threadpool, so another core compresses while the main thread validates the next
 * events. Independent members matter: a streaming deflate only takes its next chunk when the main
 * thread returns to the event loop, which it does not do while it processes a request (measured:
 * the main thread then waited for almost all of the compression). A body of several members is
 * still one gzip file (RFC 1952 2.2: "a series of members"), which Node's gunzip (the lander),
 * Python's gzip and Java's GZIPInputStream read whole; the dictionary reset every 128 KiB costs
 * about 2% of size.
 */
const CHUNK_BYTES = 128 * 1024;
/** A group's first chunk: most groups of a many-device request hold a line or two. */
const FIRST_CHUNK_BYTES = 4 * 1024;
/** Below this a pack is compressed inline: a threadpool round trip would cost more than it saves. */
const BACKGROUND_MIN_BYTES = 16 * 1024;
const NEWLINE = 0x0a;
/**
 * Lines are joined into a string of about this many UTF-16 units and encoded in one write: one
 * flatten and one native call per ~8 KiB instead of per line (measured ~25% cheaper).
 */
const TEXT_UNITS = 8 * 1024;
/** Smallest output buffer of a background member (zlib's default chunk). */
const MIN_OUTPUT_CHUNK = 16 * 1024;
/** A pack's last bytes are compressed as two members when each half is at least this big. */
const SPLIT_MIN_BYTES = 32 * 1024;

const gzipAsync = promisify(gzip);

/**
 * The Event Hubs partition of a device's events: a stable hash (FNV-1a) of `<tenant>:<deviceId>`
 * over the hub's partition ids. One device's events stay in order on one partition, and a request carries
 * at most one pack group per partition however many devices it holds (an IoT gateway sends
 * thousands), so its cost follows its bytes, not its devices.
 */
export function partitionFor(tenant: string, deviceId: string, partitionIds: readonly string[]): string {
  return partitionIds[fnv1a(`${tenant}:${deviceId}`) % partitionIds.length]!;
}

/**
 * 32-bit FNV-1a over the string's UTF-16 code units: stable across processes and versions, and
 * about twenty times cheaper than a cryptographic hash (it runs once per device of a request).
 */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The NDJSON of one pack being filled. */
interface Group {
  /** Full chunks, in order (kept until sealed: a too-large body is re-split from them). */
  chunks: Buffer[];
  current: Buffer;
  used: number;
  /** Lines (each ending in a newline) not yet written to `current`. */
  text: string;
  /** Bytes of NDJSON written so far (not counting `text`), and lines. */
  bytes: number;
  count: number;
  /** Background mode: chunks (and bytes) already being compressed, as `members`. */
  compressed: number;
  compressedBytes: number;
  members: Promise<Buffer>[];
}

/** A pack whose body may still be compressing; its NDJSON is kept to re-split it if it is too big. */
interface Sealed {
  partitionId: string;
  ndjson: Buffer[];
  count: number;
  body: Buffer | Promise<Buffer>;
}

function newGroup(): Group {
  return {
    chunks: [],
    current: Buffer.allocUnsafe(FIRST_CHUNK_BYTES),
    used: 0,
    text: '',
    bytes: 0,
    count: 0,
    compressed: 0,
    compressedBytes: 0,
    members: [],
  };
}

/** Marks a promise handled: it is awaited by finishAsync, unless the packer is abandoned. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * Collects NDJSON lines per partition and turns them into packs. Lines are already-validated
 * JSON strings (so they never contain a raw newline), written once as UTF-8; a pack body is gzip.
 * With `background`, large packs are compressed on the libuv threadpool while lines are still
 * being added; collect them with `finishAsync`.
 */
export class Packer {
  private readonly groups = new Map<string, Group>();
  private readonly sealed: Sealed[] = [];
  private readonly zlib: ZlibOptions;

  constructor(
    readonly tenant: string,
    readonly options: PackOptions = defaultPackOptions,
    readonly background = false,
  ) {
    // memLevel 9 roughly halves level-1 deflate time on NDJSON for the same size (measured).
    this.zlib = { level: options.gzipLevel, memLevel: 9 };
  }

  add(partitionId: string, line: string): void {
    let group = this.groups.get(partitionId);
    if (!group) {
      group = newGroup();
      this.groups.set(partitionId, group);
    } else if ((group.text.length + line.length + 1) * 3 + group.bytes > this.options.maxInflatedBytes) {
      // Exact UTF-8 length only near the cap (3 bytes per UTF-16 unit is the most it can take).
      this.writeText(group);
      if (group.bytes + Buffer.byteLength(line) + 1 > this.options.maxInflatedBytes) {
        this.seal(partitionId, group);
        group = newGroup();
        this.groups.set(partitionId, group);
      }
    }
    group.text += `${line}\n`;
    group.count++;
    if (group.text.length >= TEXT_UNITS) this.writeText(group);
  }

  /** Encodes the lines not yet written into the current chunk, as one UTF-8 write. */
  private writeText(group: Group): void {
    const text = group.text;
    if (text.length === 0) return;
    if (group.current.length - group.used < text.length * 3) this.nextChunk(group, text.length * 3);
    const n = group.current.write(text, group.used);
    group.used += n;
    group.bytes += n;
    group.text = '';
  }

  /** Seals what is left and returns every pack, in the order the partitions first appeared. */
  finish(): Pack[] {
    if (this.background) throw new Error('A background packer is finished with finishAsync()');
    this.sealAll();
    const packs: Pack[] = [];
    for (const s of this.sealed) this.collect(packs, s.partitionId, s.ndjson, s.count, s.body as Buffer);
    return packs;
  }

  /** `finish` for either mode: waits for background compression. */
  async finishAsync(): Promise<Pack[]> {
    this.sealAll();
    const bodies = await Promise.all(this.sealed.map((s) => s.body));
    const packs: Pack[] = [];
    for (let i = 0; i < bodies.length; i++) {
      const s = this.sealed[i]!;
      this.collect(packs, s.partitionId, s.ndjson, s.count, bodies[i]!);
    }
    return packs;
  }

  /** Closes the current chunk (compressing what is due in background mode); opens one with `room` bytes. */
  private nextChunk(group: Group, room: number): void {
    if (group.used > 0) {
      group.chunks.push(group.current.subarray(0, group.used));
      if (this.background && group.bytes - group.compressedBytes >= CHUNK_BYTES) this.compressMember(group);
    }
    // Chunks double up to CHUNK_BYTES, so a one-line group stays small.
    const size = Math.max(room, Math.min(CHUNK_BYTES, Math.max(FIRST_CHUNK_BYTES, group.bytes)));
    group.current = Buffer.allocUnsafe(size);
    group.used = 0;
  }

  /**
   * Starts compressing the chunks not yet compressed on the threadpool, as one gzip member, or as
   * two halves when `split` (a pack's last bytes: the main thread then only waits, so a second
   * thread halves that wait; members may cut a line, they inflate to one stream).
   */
  private compressMember(group: Group, split = false): void {
    const pending = group.chunks.slice(group.compressed);
    const input = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
    if (split && input.byteLength >= 2 * SPLIT_MIN_BYTES) {
      const half = input.byteLength >> 1;
      group.members.push(this.member(input.subarray(0, half)), this.member(input.subarray(half)));
    } else group.members.push(this.member(input));
    group.compressed = group.chunks.length;
    group.compressedBytes = group.bytes;
  }

  /**
   * One gzip member on the threadpool. Z_FINISH on the first write, with room for the whole output
   * of compressible NDJSON, makes it one threadpool job: by default (no flush, 16 KiB of output
   * per job) it needs the main thread between jobs, which it does not get while it processes the
   * request, so compression lagged to the end of the request (measured).
   */
  private member(input: Buffer): Promise<Buffer> {
    const options: ZlibOptions = {
      ...this.zlib,
      flush: constants.Z_FINISH,
      chunkSize: Math.max(MIN_OUTPUT_CHUNK, input.byteLength >> 2),
    };
    return quiet(gzipAsync(input, options));
  }

  private sealAll(): void {
    for (const [key, group] of this.groups) if (group.count > 0) this.seal(key, group);
    this.groups.clear();
  }

  private seal(partitionId: string, group: Group): void {
    this.writeText(group);
    const ndjson = group.chunks;
    if (group.used > 0) ndjson.push(group.current.subarray(0, group.used));
    let body: Buffer | Promise<Buffer>;
    if (this.background && (group.members.length > 0 || group.bytes >= BACKGROUND_MIN_BYTES)) {
      if (group.compressed < ndjson.length) this.compressMember(group, true);
      body = quiet(
        Promise.all(group.members).then((members) =>
          members.length === 1 ? members[0]! : Buffer.concat(members),
        ),
      );
    } else {
      body = gzipSync(ndjson.length === 1 ? ndjson[0]! : Buffer.concat(ndjson), this.zlib);
    }
    this.sealed.push({ partitionId, ndjson, count: group.count, body });
  }

  /** Adds the pack, or, for poorly compressible lines (rare), halves until each body fits. */
  private collect(packs: Pack[], partitionId: string, ndjson: Buffer[], count: number, body: Buffer): void {
    if (body.byteLength > this.options.maxPackBytes && count > 1) {
      const all = Buffer.concat(ndjson);
      const half = count >> 1;
      // The end of line `half`: newlines only ever end lines (JSON escapes them inside strings).
      let cut = -1;
      for (let i = 0; i < half; i++) cut = all.indexOf(NEWLINE, cut + 1);
      for (const [part, n] of [
        [all.subarray(0, cut + 1), half],
        [all.subarray(cut + 1), count - half],
      ] as const) {
        this.collect(packs, partitionId, [part], n, gzipSync(part, this.zlib));
      }
      return;
    }
    packs.push({
      partitionId,
      body,
      properties: {
        tenant: this.tenant,
        count,
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      },
    });
  }
}
