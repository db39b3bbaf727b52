/** A small bounded LRU map, shared by the caches of the registry client and the resolver. */

/** A least-recently-used map bounded by entry count (Map keeps insertion order; a hit re-inserts). */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly maxEntries: number) {}

  /** Returns the value and marks it recently used. */
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  /** Stores a value, evicting the least recently used entry beyond the bound. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.map.delete(oldest.value);
    }
  }

  /** Forgets a key. */
  delete(key: K): void {
    this.map.delete(key);
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }
}
