/**
 * A small time-bounded memo (CONFIG_CACHE_SECONDS): tenant data changes rarely, and reading it
 * from Table storage on every request would cost more than the request itself. Bounded in
 * entries: when full, the oldest entry goes (never everything at once).
 */
export class TtlCache<V> {
  // The promise, not the value: requests arriving while a load is in flight share it.
  private readonly entries = new Map<string, { value: Promise<V>; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  /**
   * The cached value of `key`, or `load()`'s. A failed load is not kept, nor a value `keep`
   * refuses (so that what a caller cannot vouch for never takes the place of what it can).
   */
  async get(key: string, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
    const now = this.clock();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    if (hit) this.entries.delete(key);
    const value = load();
    if (this.ttlMs > 0) {
      for (const oldest of this.entries.keys()) {
        if (this.entries.size < this.maxEntries) break;
        this.entries.delete(oldest);
      }
      const entry = { value, expires: now + this.ttlMs };
      this.entries.set(key, entry);
      const forget = () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      };
      value.then((v) => {
        if (!keep(v)) forget();
      }, forget);
    }
    return value;
  }

  has(key: string): boolean {
    const hit = this.entries.get(key);
    return hit !== undefined && hit.expires > this.clock();
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
