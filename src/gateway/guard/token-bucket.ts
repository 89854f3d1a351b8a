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
// One bucket on its own (`TokenBucket`) is what a WebSocket connection uses for its inbound messages
// (gateway/ws/rate-limit.ts); the table keeps one per key.
//
// Bounded memory: at most `maxKeys` buckets, least recently used evicted first (lib/lru.ts; every
// take makes its key the most recently used). An evicted key comes back full, which
// is what it would nearly always be anyway: the least recently used bucket has had the longest
// to refill. The cost of the bound is that a flood of more than `maxKeys` distinct keys within
// burst / rate seconds can reset a throttled key early: size `maxKeys` well above the number of
// clients seen in that window.

import { LruMap } from "../../lib/lru.ts";

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

/** A validated policy in integer units, shared by every bucket of a table. */
class Rate implements TokenBucketPolicy {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Refill per millisecond, in units (= thousandths of a token per second). */
  readonly rateMilli: number;
  readonly capacityUnits: number;

  constructor(policy: TokenBucketPolicy) {
    const rateMilli = Math.round(policy.ratePerSecond * 1000);
    if (!Number.isFinite(policy.ratePerSecond) || rateMilli < 1)
      throw new RangeError(`ratePerSecond must be at least 0.001, got ${policy.ratePerSecond}`);
    if (!Number.isSafeInteger(policy.burst) || policy.burst < 1 || policy.burst > 1_000_000_000)
      throw new RangeError(`burst must be a whole number of tokens ≥ 1, got ${policy.burst}`);
    this.rateMilli = rateMilli;
    this.ratePerSecond = rateMilli / 1000;
    this.burst = policy.burst;
    this.capacityUnits = policy.burst * UNITS_PER_TOKEN;
  }
}

function costUnits(cost: number): number {
  if (!Number.isSafeInteger(cost) || cost < 1)
    throw new RangeError(`cost must be a whole number ≥ 1, got ${cost}`);
  return cost * UNITS_PER_TOKEN;
}

/** One token bucket; starts full at `nowMs`. Every call passes the time; none reads a clock. */
export class TokenBucket {
  private readonly rate: Rate;
  private units: number;
  /** Time the units were last refilled to, ms (whole ms behind the caller's clock at most). */
  private atMs: number;

  constructor(policy: TokenBucketPolicy, nowMs: number) {
    this.rate = policy instanceof Rate ? policy : new Rate(policy);
    this.units = this.rate.capacityUnits;
    this.atMs = nowMs;
  }

  /**
   * Takes `cost` tokens if the bucket holds them at `nowMs` and returns 0; otherwise takes nothing
   * and returns the milliseconds until they are back (≥ 1). Allocates nothing.
   */
  tryTake(nowMs: number, cost = 1): number {
    const units = costUnits(cost);
    this.refill(nowMs);
    if (this.units >= units) {
      this.units -= units;
      return 0;
    }
    // A cost above the burst can never be admitted; say when the bucket is full, the best it gets.
    const missing = Math.min(units, this.rate.capacityUnits) - this.units;
    return Math.max(1, Math.ceil(missing / this.rate.rateMilli));
  }

  /** Gives back `cost` tokens, never above the burst. */
  refund(cost = 1): void {
    this.units = Math.min(this.rate.capacityUnits, this.units + costUnits(cost));
  }

  /** Whole tokens held at `nowMs`; changes nothing. */
  tokens(nowMs: number): number {
    const elapsedMs = Math.floor(nowMs - this.atMs);
    const units = elapsedMs > 0 ? this.units + elapsedMs * this.rate.rateMilli : this.units;
    return Math.floor(Math.min(units, this.rate.capacityUnits) / UNITS_PER_TOKEN);
  }

  private refill(nowMs: number): void {
    // A clock that steps back refills nothing and drains nothing; the bucket waits for it.
    const elapsedMs = Math.floor(nowMs - this.atMs);
    if (!(elapsedMs > 0)) return;
    const units = this.units + elapsedMs * this.rate.rateMilli;
    if (units >= this.rate.capacityUnits) {
      // Full: the carried fraction no longer matters, so the bucket's time catches up entirely.
      this.units = this.rate.capacityUnits;
      this.atMs = nowMs;
    } else {
      this.units = units;
      this.atMs += elapsedMs;
    }
  }
}

export class TokenBucketTable {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
  private readonly rate: Rate;
  private readonly buckets: LruMap<string, TokenBucket>;

  constructor(options: TokenBucketTableOptions) {
    this.rate = new Rate(options);
    if (!Number.isSafeInteger(options.maxKeys) || options.maxKeys < 1)
      throw new RangeError(`maxKeys must be a whole number ≥ 1, got ${options.maxKeys}`);
    this.ratePerSecond = this.rate.ratePerSecond;
    this.burst = this.rate.burst;
    this.maxKeys = options.maxKeys;
    this.buckets = new LruMap(options.maxKeys);
  }

  /** Keys tracked now (≤ maxKeys). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes `cost` tokens from `key`'s bucket if it holds them; otherwise takes nothing. */
  take(key: string, nowMs: number, cost = 1): TakeDecision {
    costUnits(cost); // a bad cost throws before a bucket is created for it
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(this.rate, nowMs);
      this.buckets.set(key, bucket);
    }
    const retryAfterMs = bucket.tryTake(nowMs, cost);
    return { admitted: retryAfterMs === 0, retryAfterMs };
  }

  /**
   * Gives back tokens taken for a request that turned out not to be this key's (the gateway
   * charges an API key before it can check the signature). Never above the burst; a key no
   * longer tracked is left alone (it would come back full anyway).
   */
  refund(key: string, cost = 1): void {
    this.buckets.peek(key)?.refund(cost);
  }

  /** Whole tokens `key` holds at `nowMs` (for tests and diagnostics); does not change the LRU order. */
  tokens(key: string, nowMs: number): number {
    return this.buckets.peek(key)?.tokens(nowMs) ?? this.burst;
  }
}
