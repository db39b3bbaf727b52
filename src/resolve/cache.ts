/** The resolver's caches: a bounded LRU for immutable entries and a TTL map for moving tags. */
import { LruCache } from '../base/lru.js';

export { LruCache };

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

  /** The last digest recorded for a tag, however old (what a HEAD compares against). */
  last(key: string): TagEntry | undefined {
    return this.lru.get(key);
  }

  /** Records a resolution made now. */
  set(key: string, digest: string): void {
    this.lru.set(key, { digest, resolvedAt: this.now() });
  }
}
