// Inbound message rate of one connection: a token bucket of `perSecond` tokens refilled at
// `perSecond` per second, plus a strike counter for refused messages that drains one per second.
// Integer arithmetic in thousandths, with time from an injected clock, so tests are exact.

const MILLI = 1000;

export type RateDecision = "accept" | "refuse" | "close";

export class InboundRateLimit {
  private tokensMilli: number;
  private strikesMilli = 0;
  private lastMs: number;

  constructor(
    private readonly perSecond: number,
    private readonly maxStrikes: number,
    private readonly clock: () => number,
  ) {
    this.tokensMilli = perSecond * MILLI;
    this.lastMs = clock();
  }

  /** One inbound message: accept it, refuse it (error frame), or close the connection. */
  take(): RateDecision {
    this.refill();
    if (this.tokensMilli >= MILLI) {
      this.tokensMilli -= MILLI;
      return "accept";
    }
    this.strikesMilli += MILLI;
    return this.strikesMilli > this.maxStrikes * MILLI ? "close" : "refuse";
  }

  private refill(): void {
    const now = this.clock();
    // A clock stepping back refills nothing rather than draining anything.
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = Math.max(this.lastMs, now);
    // perSecond tokens per 1000 ms is perSecond milli-tokens per ms; one strike per second is 1 per ms.
    this.tokensMilli = Math.min(this.perSecond * MILLI, this.tokensMilli + elapsedMs * this.perSecond);
    this.strikesMilli = Math.max(0, this.strikesMilli - elapsedMs);
  }
}
