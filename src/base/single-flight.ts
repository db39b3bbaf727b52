/** Single-flight: concurrent calls with the same key share one execution. */

/** Runs `fn` once per key at a time; callers arriving while it runs get the same promise. */
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  /** Shares the in-flight call for `key`, or starts `fn`. */
  do(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running;
    const started = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, started);
    return started;
  }

  /** Number of keys in flight. */
  get size(): number {
    return this.inflight.size;
  }
}
