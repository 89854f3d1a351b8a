// A bounded table of token buckets, one per key (a client address, an API key id). Pure: time is
// passed to every call, never read here, so tests and a later shared (Redis) implementation can
// drive it exactly.
//
//   const table = new TokenBucketTable({ ratePerSecond: 10, burst: 20, maxKeys: 100_000 });
//   const decision = table.take("ip:203.0.113.7", nowMs);   // { admitted, retryAfterMs }
//
// Each bucket holds at most `burst` tokens and refills at `ratePerSecond`; a request takes one
// (or `cost`). A new key starts full. So over any interval of `t` ms a key is admitted at most
// burst + ratePerSecond × t / 1000 requests (test/gateway/guard/token-bucket.test.ts checks it).
//
// Arithmetic is in integers: a token is 1,000,000 units and the rate is kept in thousandths of a
// token per second, which is exactly `rateMilli` units per millisecond. No float drift can admit
// an extra request. Elapsed time is counted in whole milliseconds; the fraction is carried over,
// not lost, so a sub-millisecond clock still refills.
//
// Bounded memory: at most `maxKeys` buckets, least recently used evicted first (a Map keeps
// insertion order; every take moves its key to the end). An evicted key comes back full, which
// is what it would nearly always be anyway: the least recently used bucket has had the longest
// to refill. The cost of the bound is that a flood of more than `maxKeys` distinct keys within
// burst / rate seconds can reset a throttled key early: size `maxKeys` well above the number of
// clients seen in that window.

const UNITS_PER_TOKEN = 1_000_000;

export interface TokenBucketPolicy {
  /** Refill rate, tokens per second; kept to 0.001. */
  ratePerSecond: number;
  /** Bucket capacity, whole tokens: the largest burst admitted after a quiet spell. */
  burst: number;
}

export interface TokenBucketTableOptions extends TokenBucketPolicy {
  /** Most keys tracked at once; the least recently used is evicted beyond it. */
  maxKeys: number;
}

export interface TakeDecision {
  admitted: boolean;
  /** When refused: milliseconds until `cost` tokens are back (≥ 1). 0 when admitted. */
  retryAfterMs: number;
}

interface Bucket {
  units: number;
  /** Time the units were last refilled to, ms (whole ms behind the caller's clock at most). */
  atMs: number;
}

export class TokenBucketTable {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
  /** Refill per millisecond, in units (= thousandths of a token per second). */
  private readonly rateMilli: number;
  private readonly capacityUnits: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(options: TokenBucketTableOptions) {
    const rateMilli = Math.round(options.ratePerSecond * 1000);
    if (!Number.isFinite(options.ratePerSecond) || rateMilli < 1)
      throw new RangeError(`ratePerSecond must be at least 0.001, got ${options.ratePerSecond}`);
    if (!Number.isSafeInteger(options.burst) || options.burst < 1 || options.burst > 1_000_000_000)
      throw new RangeError(`burst must be a whole number of tokens ≥ 1, got ${options.burst}`);
    if (!Number.isSafeInteger(options.maxKeys) || options.maxKeys < 1)
      throw new RangeError(`maxKeys must be a whole number ≥ 1, got ${options.maxKeys}`);
    this.rateMilli = rateMilli;
    this.ratePerSecond = rateMilli / 1000;
    this.burst = options.burst;
    this.maxKeys = options.maxKeys;
    this.capacityUnits = options.burst * UNITS_PER_TOKEN;
  }

  /** Keys tracked now (≤ maxKeys). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes `cost` tokens from `key`'s bucket if it holds them; otherwise takes nothing. */
  take(key: string, nowMs: number, cost = 1): TakeDecision {
    const costUnits = this.costUnits(cost);
    const bucket = this.touch(key, nowMs);
    if (bucket.units >= costUnits) {
      bucket.units -= costUnits;
      return { admitted: true, retryAfterMs: 0 };
    }
    // A cost above the burst can never be admitted; say when the bucket is full, the best it gets.
    const missing = Math.min(costUnits, this.capacityUnits) - bucket.units;
    return { admitted: false, retryAfterMs: Math.max(1, Math.ceil(missing / this.rateMilli)) };
  }

  /**
   * Gives back tokens taken for a request that turned out not to be this key's (the gateway
   * charges an API key before it can check the signature). Never above the burst; a key no
   * longer tracked is left alone (it would come back full anyway).
   */
  refund(key: string, cost = 1): void {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return;
    bucket.units = Math.min(this.capacityUnits, bucket.units + this.costUnits(cost));
  }

  /** Whole tokens `key` holds at `nowMs` (for tests and diagnostics); does not change the LRU order. */
  tokens(key: string, nowMs: number): number {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return this.burst;
    return Math.floor(this.refilledUnits(bucket, nowMs).units / UNITS_PER_TOKEN);
  }

  private costUnits(cost: number): number {
    if (!Number.isSafeInteger(cost) || cost < 1)
      throw new RangeError(`cost must be a whole number ≥ 1, got ${cost}`);
    return cost * UNITS_PER_TOKEN;
  }

  private refilledUnits(bucket: Bucket, nowMs: number): Bucket {
    // A clock that steps back refills nothing and drains nothing; the bucket waits for it.
    const elapsedMs = Math.floor(nowMs - bucket.atMs);
    if (!(elapsedMs > 0)) return bucket;
    const units = bucket.units + elapsedMs * this.rateMilli;
    // Full: the carried fraction no longer matters, so the bucket's time catches up entirely.
    if (units >= this.capacityUnits) return { units: this.capacityUnits, atMs: nowMs };
    return { units, atMs: bucket.atMs + elapsedMs };
  }

  /** The key's bucket refilled to `nowMs` and moved to the most recently used end. */
  private touch(key: string, nowMs: number): Bucket {
    const existing = this.buckets.get(key);
    let bucket: Bucket;
    if (existing === undefined) {
      bucket = { units: this.capacityUnits, atMs: nowMs };
      if (this.buckets.size >= this.maxKeys) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
    } else {
      bucket = this.refilledUnits(existing, nowMs);
      this.buckets.delete(key);
    }
    this.buckets.set(key, bucket);
    return bucket;
  }
}
