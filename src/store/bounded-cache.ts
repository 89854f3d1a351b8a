// A bounded least-recently-used map whose entries also expire after a fixed time. The gateway's
// account caches use it: the size bound keeps a flood of distinct key ids from growing memory,
// and the time bound is the safety net for changes made by another process (the CLI, another
// gateway in cluster mode), which this process's explicit invalidation never hears about.

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
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently used first.
  private readonly entries = new Map<K, Entry<V>>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly clock: () => number;

  constructor(options: BoundedTtlCacheOptions) {
    if (!Number.isSafeInteger(options.maxEntries) || options.maxEntries < 1)
      throw new RangeError("cache: maxEntries must be a positive integer");
    if (!Number.isFinite(options.ttlMs) || options.ttlMs < 0)
      throw new RangeError("cache: ttlMs must be a non-negative number");
    this.maxEntries = options.maxEntries;
    this.ttlMs = options.ttlMs;
    this.clock = options.clock ?? (() => performance.now());
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live entry, or undefined when absent or expired (an expired entry is dropped). */
  get(key: K): { value: V } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.clock() - entry.loadedMs >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return { value: entry.value };
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, loadedMs: this.clock() });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
