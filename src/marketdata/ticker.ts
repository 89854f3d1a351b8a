// 24 h rolling ticker of one market, from trades bucketed per minute: 1,440 buckets, so memory is
// fixed (~40 bytes per bucket, ~58 KB per market) however many trades there are.
//
// The window at `nowMs` holds the minute containing nowMs and the 1,439 minutes before it, so it
// spans between 23 h 59 min and 24 h: a trade leaves the window at the first minute boundary at or
// after 24 h of age. Time comes only from event timestamps and from `nowMs` given to reads.
// Time never goes backwards here: a trade stamped earlier than one already seen in the market is
// counted at the latest time seen (the sequencer stamps monotonic time, so this is a guard).

import type { TradeEvent } from "../core/events.ts";
import { ExactSums, ExactTotal } from "./exact-sum.ts";
import { MS_PER_MINUTE, TICKER_BUCKET_COUNT } from "./limits.ts";

/** An exact rational price: numerator / denominator ticks; denominator 0n when there is no volume. */
export interface PriceRatio {
  numerator: bigint;
  denominator: bigint;
}

export interface Ticker {
  marketId: number;
  /** Price of the market's last trade ever; 0 before the first trade. */
  lastPriceTicks: number;
  /** Best bid and ask from the depth book; 0 when that side is empty. */
  bestBidTicks: number;
  bestAskTicks: number;
  /** Over the 24 h window; 0 when the window holds no trade. */
  highTicks: number;
  lowTicks: number;
  volumeBaseLots: bigint;
  volumeQuoteUnits: bigint;
  /** Volume-weighted average price in ticks: volumeQuoteUnits / (volumeBaseLots * quoteUnitsPerTickLot). */
  averagePriceTicks: PriceRatio;
  /** Timestamp of the last event that changed the market (trade or accepted order); 0 before any. */
  updatedMs: number;
}

const EMPTY_MINUTE = -1;

interface WindowSums {
  highTicks: number;
  lowTicks: number;
  volumeBaseLots: bigint;
  volumeQuoteUnits: bigint;
}

export function minuteOf(timestampMs: number): number {
  return Math.floor(timestampMs / MS_PER_MINUTE);
}

export class RollingTicker {
  /** The minute each bucket currently holds, or EMPTY_MINUTE. Bucket index = minute mod 1440. */
  private readonly bucketMinute = new Float64Array(TICKER_BUCKET_COUNT).fill(EMPTY_MINUTE);
  private readonly highTicks = new Uint32Array(TICKER_BUCKET_COUNT);
  private readonly lowTicks = new Uint32Array(TICKER_BUCKET_COUNT);
  private readonly baseLots = new ExactSums(TICKER_BUCKET_COUNT);
  private readonly quoteUnits = new ExactSums(TICKER_BUCKET_COUNT);
  private lastPriceTicks = 0;
  private latestMs = 0;
  private updatedMs = 0;
  /** Counts trades, so a read can tell whether the window's sums may have changed. */
  private tradeCount = 0;
  /** The window sums of the last read: reused while neither the minute nor the trades changed. */
  private memo: WindowSums | null = null;
  private memoMinute = 0;
  private memoTradeCount = 0;

  constructor(
    readonly marketId: number,
    private readonly quoteUnitsPerTickLot: number,
  ) {}

  /** An event that changed the market without a trade (an accepted order). */
  touch(timestampMs: number): void {
    this.updatedMs = Math.max(this.updatedMs, timestampMs);
  }

  record(trade: TradeEvent): void {
    this.latestMs = Math.max(this.latestMs, trade.timestampMs);
    this.touch(this.latestMs);
    const minute = minuteOf(this.latestMs);
    const bucket = minute % TICKER_BUCKET_COUNT;
    if (this.bucketMinute[bucket] !== minute) this.resetBucket(bucket, minute, trade.priceTicks);
    if (trade.priceTicks > this.highTicks[bucket]) this.highTicks[bucket] = trade.priceTicks;
    if (trade.priceTicks < this.lowTicks[bucket]) this.lowTicks[bucket] = trade.priceTicks;
    this.baseLots.add(bucket, trade.quantityLots);
    this.quoteUnits.add(bucket, trade.notionalUnits);
    this.lastPriceTicks = trade.priceTicks;
    this.tradeCount += 1;
  }

  /**
   * The ticker as of `nowMs`. The window sums cost a scan of the 1,440 buckets (~20 us), done only
   * when the minute or the trades changed since the previous read: idle markets read in O(1).
   */
  read(nowMs: number, bestBidTicks: number, bestAskTicks: number): Ticker {
    const nowMinute = minuteOf(nowMs);
    if (this.memo === null || this.memoMinute !== nowMinute || this.memoTradeCount !== this.tradeCount) {
      this.memo = this.windowSums(nowMinute);
      this.memoMinute = nowMinute;
      this.memoTradeCount = this.tradeCount;
    }
    const { highTicks, lowTicks, volumeBaseLots, volumeQuoteUnits } = this.memo;
    return {
      marketId: this.marketId,
      lastPriceTicks: this.lastPriceTicks,
      bestBidTicks,
      bestAskTicks,
      highTicks,
      lowTicks,
      volumeBaseLots,
      volumeQuoteUnits,
      averagePriceTicks: {
        numerator: volumeQuoteUnits,
        denominator: volumeBaseLots * BigInt(this.quoteUnitsPerTickLot),
      },
      updatedMs: this.updatedMs,
    };
  }

  private windowSums(nowMinute: number): WindowSums {
    const firstMinute = nowMinute - (TICKER_BUCKET_COUNT - 1);
    let highTicks = 0;
    let lowTicks = 0;
    const baseTotal = new ExactTotal();
    const quoteTotal = new ExactTotal();
    for (let bucket = 0; bucket < TICKER_BUCKET_COUNT; bucket++) {
      const minute = this.bucketMinute[bucket];
      if (minute < firstMinute || minute > nowMinute) continue;
      if (this.highTicks[bucket] > highTicks) highTicks = this.highTicks[bucket];
      if (lowTicks === 0 || this.lowTicks[bucket] < lowTicks) lowTicks = this.lowTicks[bucket];
      this.baseLots.addTo(bucket, baseTotal);
      this.quoteUnits.addTo(bucket, quoteTotal);
    }
    return { highTicks, lowTicks, volumeBaseLots: baseTotal.value(), volumeQuoteUnits: quoteTotal.value() };
  }

  private resetBucket(bucket: number, minute: number, priceTicks: number): void {
    this.bucketMinute[bucket] = minute;
    this.highTicks[bucket] = priceTicks;
    this.lowTicks[bucket] = priceTicks;
    this.baseLots.clear(bucket);
    this.quoteUnits.clear(bucket);
  }
}
