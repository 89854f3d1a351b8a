// A bounded least-recently-used map whose entries also expire after a fixed time. The gateway's
// account caches use it: the size bound keeps a flood of distinct key ids from growing memory,
// and the time bound is the safety net for changes made by another process (the CLI, another
// gateway in cluster mode), which this process's explicit invalidation never hears about.
// The recency and the size bound are lib/lru.ts's; this adds the time bound.

import { LruMap } from "../lib/lru.ts";

export interface BoundedTtlCacheOptions {
  maxEntries: number;
  ttlMs: number;
  /** Milliseconds; a monotonic clock by default so wall-clock jumps neither extend nor cut the TTL. */
  clock?: () => number;
}

interface Entry<V> {
  value: V;
  loadedMs: number;
}

export class BoundedTtlCache<K, V> {
  private readonly entries: LruMap<K, Entry<V>>;
  private readonly ttlMs: number;
  private readonly clock: () => number;

  constructor(options: BoundedTtlCacheOptions) {
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1)
      throw new RangeError("cache: maxEntries must be a positive integer");
    if (!Number.isFinite(options.ttlMs) || options.ttlMs < 0)
      throw new RangeError("cache: ttlMs must be a non-negative number");
    this.entries = new LruMap(options.maxEntries);
    this.ttlMs = options.ttlMs;
    this.clock = options.clock ?? (() => performance.now());
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live entry, or undefined when absent or expired (an expired entry is dropped). */
  get(key: K): { readonly value: V } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.clock() - entry.loadedMs >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: K, value: V): void {
    this.entries.set(key, { value, loadedMs: this.clock() });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
