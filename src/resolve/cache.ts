/** The resolver's caches: a bounded LRU for immutable entries and a TTL map for moving tags. */

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

  /** Number of entries. */
  get size(): number {
    return this.map.size;
  }
}

/** A tag resolution remembered with the time it was made. */
export interface TagEntry {
  readonly digest: string;
  readonly resolvedAt: number;
}

/**
 * Tag → digest with a freshness TTL and a longer grace period for stale-if-error. Bounded like
 * the LRU, since tags come from users.
 */
export class TagCache {
  private readonly lru: LruCache<string, TagEntry>;

  constructor(
    private readonly ttlMs: number,
    private readonly graceMs: number,
    maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lru = new LruCache(maxEntries);
  }

  /** A digest resolved within the TTL, if any. */
  fresh(key: string): TagEntry | undefined {
    const e = this.lru.get(key);
    return e && this.now() - e.resolvedAt < this.ttlMs ? e : undefined;
  }

  /** A digest resolved within the grace period, for use when the registry fails. */
  stale(key: string): TagEntry | undefined {
    const e = this.lru.get(key);
    return e && this.now() - e.resolvedAt < this.graceMs ? e : undefined;
  }

  /** Records a resolution made now. */
  set(key: string, digest: string): void {
    this.lru.set(key, { digest, resolvedAt: this.now() });
  }
}
