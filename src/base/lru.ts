/** A small bounded LRU map, shared by the caches of the registry client and the resolver. */

/** A least-recently-used map bounded by entry count (Map keeps insertion order; a hit re-inserts). */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  /**
   * The most recently used key (the map's last entry) while `hasNewest`. A hit on it is not moved:
   * warm admissions ask the same few keys over and over, and a delete and re-insert per hit costs
   * two hash lookups and leaves a hole in the map's table each time (rehashed every few thousand hits).
   */
  private newest: K | undefined;
  private hasNewest = false;

  constructor(private readonly maxEntries: number) {}

  /** Returns the value and marks it recently used. */
  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    if (this.hasNewest && this.newest === key) return value;
    this.map.delete(key);
    this.map.set(key, value);
    this.newest = key;
    this.hasNewest = true;
    return value;
  }

  /** Stores a value, evicting the least recently used entry beyond the bound. */
  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    this.newest = key;
    this.hasNewest = true;
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  /** Forgets a key. */
  delete(key: K): void {
    this.map.delete(key);
    if (this.hasNewest && this.newest === key) {
      this.newest = undefined;
      this.hasNewest = false;
    }
  }

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }
}
