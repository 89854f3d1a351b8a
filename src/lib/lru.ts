// A bounded map that evicts its least recently used entry: the one LRU of the code base (nonce
// ledger, account cache, SQLite statement cache, rate-limit buckets, read-your-writes marks).
//
// A Map iterates in insertion order, so re-inserting a key on use keeps the least recently used
// first and eviction is `keys().next()`. Nothing is allocated per operation beyond what the Map
// itself does (eviction's iterator aside), so it can sit on every request's path.
//
// Recency moves on `get` and `set` only; `peek` and `has` read without moving it, for callers
// whose notion of "use" is narrower (the nonce ledger refreshes a key when it advances it, not
// when it reads it).

export class LruMap<K, V> {
  readonly maxEntries: number;
  private readonly entries = new Map<K, V>();

  /**
   * @param maxEntries most entries kept; setting a new key beyond it evicts the least recently used.
   * @param onEvict called with each entry evicted for room (not for `delete` or `clear`).
   */
  constructor(
    maxEntries: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`LruMap: maxEntries must be a positive integer, got ${maxEntries}`);
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The value, and the key becomes the most recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined && !this.entries.has(key)) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value as V);
    return value;
  }

  /** The value, without touching recency. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Sets the value and makes the key the most recently used; a new key beyond the bound evicts. */
  set(key: K, value: V): void {
    if (!this.entries.delete(key) && this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.evict(oldest.value);
    }
    this.entries.set(key, value);
  }

  private evict(key: K): void {
    if (this.onEvict === undefined) this.entries.delete(key);
    else {
      const value = this.entries.get(key) as V;
      this.entries.delete(key);
      this.onEvict(key, value);
    }
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  /** Keys from the least to the most recently used. */
  keys(): IterableIterator<K> {
    return this.entries.keys();
  }
}
