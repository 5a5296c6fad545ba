/**
 * A least-recently-used map of immutable byte buffers, bounded by their total size: what was
 * read from the lake and will not change (id sidecars of closed states).
 */
export class ByteCache {
  private readonly entries = new Map<string, Buffer>();
  private bytes = 0;
  constructor(readonly maxBytes: number) {}

  get(key: string): Buffer | undefined {
    const value = this.entries.get(key);
    if (value) {
      // Refresh: Map keeps insertion order, so the first key is the least recently used.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: Buffer): void {
    if (value.length > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.length;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.bytes += value.length;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.length;
    }
  }
}

let shared: ByteCache | undefined;

/** The process's cache of id sidecars, shared by every worker in it. */
export function idsCacheOf(maxBytes: number): ByteCache {
  if (shared?.maxBytes !== maxBytes) shared = new ByteCache(maxBytes);
  return shared;
}
