/**
 * A small time-bounded memo (CONFIG_CACHE_SECONDS): tenant data changes rarely, and reading it
 * from Table storage on every request would cost more than the request itself.
 */
export class TtlCache<V> {
  // The promise, not the value: requests arriving while a load is in flight share it.
  private readonly entries = new Map<string, { value: Promise<V>; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
    private readonly maxEntries = 10_000,
  ) {}

  async get(key: string, load: () => Promise<V>): Promise<V> {
    const now = this.clock();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value;
    const value = load();
    if (this.ttlMs > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      const entry = { value, expires: now + this.ttlMs };
      this.entries.set(key, entry);
      // A failed load is not cached: the next request tries again.
      value.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
