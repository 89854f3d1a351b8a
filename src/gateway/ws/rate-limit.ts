// Inbound message rate of one connection: a token bucket of `perSecond` tokens refilled at
// `perSecond` per second, plus strikes for refused messages that drain one per second. Both are
// the guard's integer token bucket (gateway/guard/token-bucket.ts): the strikes are a bucket of
// `maxStrikes` that each refusal takes from, and a refusal that finds it empty closes the
// connection. Time comes from an injected clock, so tests are exact.

import { TokenBucket } from "../guard/token-bucket.ts";

export type RateDecision = "accept" | "refuse" | "close";

export class InboundRateLimit {
  private readonly messages: TokenBucket;
  /** Refusals still allowed before the connection is closed; one comes back per second. */
  private readonly strikes: TokenBucket;

  constructor(
    perSecond: number,
    maxStrikes: number,
    private readonly clock: () => number,
  ) {
    const now = clock();
    this.messages = new TokenBucket({ ratePerSecond: perSecond, burst: perSecond }, now);
    this.strikes = new TokenBucket({ ratePerSecond: 1, burst: maxStrikes }, now);
  }

  /** One inbound message: accept it, refuse it (error frame), or close the connection. */
  take(): RateDecision {
    const now = this.clock();
    if (this.messages.tryTake(now) === 0) return "accept";
    return this.strikes.tryTake(now) === 0 ? "refuse" : "close";
  }
}
