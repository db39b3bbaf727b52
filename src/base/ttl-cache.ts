/**
 * An expiring cache bounded by entry count and bytes, for answers that go stale (the Kubernetes
 * API's secrets and service accounts). Immutable entries use the LRU of lru.ts instead.
 */

/** Entries expire `ttlMs` after they are set; past either bound the oldest go first (every entry expires within the TTL anyway). */
export class TtlCache<V, K = string> {
  private readonly map = new Map<K, { readonly value: V; readonly at: number; readonly bytes: number }>();
  private bytes = 0;

  /** `ttlMs` 0 or less disables caching; `now` is the clock (tests pass a fake one). */
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value set less than the TTL ago, if any. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (this.now() - e.at < this.ttlMs) return e.value;
    this.delete(key);
    return undefined;
  }

  /** Stores a value that costs `bytes`; one larger than the whole byte bound is not stored. */
  set(key: K, value: V, bytes: number): void {
    if (this.ttlMs <= 0 || bytes > this.maxBytes) return;
    this.delete(key);
    this.map.set(key, { value, at: this.now(), bytes });
    this.bytes += bytes;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
  }

  /** Forgets a key. */
  delete(key: K): void {
    const e = this.map.get(key);
    if (e === undefined) return;
    this.bytes -= e.bytes;
    this.map.delete(key);
  }

  /** Number of entries (expired ones included until they are read or pushed out). */
  get size(): number {
    return this.map.size;
  }

  /** Bytes of the entries held. */
  get heldBytes(): number {
    return this.bytes;
  }
}
