// OHLCV candles at every EXMO resolution, from trades.
//
// Bucket boundaries, all UTC, all on the Unix epoch grid:
// - minute resolutions (1..240): openTime = floor(t / r min) * r min. Every one of them divides
//   1,440, so candles also line up with UTC days (45 min: 32 per day).
// - D: UTC midnight.
// - W: Monday 00:00 UTC (as EXMO's chart feed and TradingView do; 1970-01-01 was a Thursday, so
//   the week of the epoch opens on 1969-12-29).
// - M: the first day of the UTC calendar month, 00:00.
// Only buckets with at least one trade exist (no empty candles, as in EXMO's answers). Each
// resolution keeps its newest CANDLE_RETENTION[r] candles in a ring that grows on demand up to
// that bound, so an idle market costs almost nothing and a busy one at most ~40 bytes per candle
// (~1.5 MB for all twelve rings full).
// Time never goes backwards: a trade stamped before the latest trade of its market counts at the
// latest time seen, so every series stays append-only.

import type { TradeEvent } from "../core/events.ts";
import { ExactSums } from "./exact-sum.ts";
import { MAX_CANDLES_PER_QUERY, MS_PER_MINUTE } from "./limits.ts";

export const RESOLUTIONS = ["1", "5", "15", "30", "45", "60", "120", "180", "240", "D", "W", "M"] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export const MS_PER_DAY = 86_400_000;

/** Candles kept per resolution (the span it covers when every bucket traded, in the comment). */
export const CANDLE_RETENTION: Readonly<Record<Resolution, number>> = {
  "1": 4_320, // 3 days
  "5": 4_032, // 14 days
  "15": 2_880, // 30 days
  "30": 4_320, // 90 days
  "45": 2_880, // 90 days
  "60": 4_392, // 183 days
  "120": 4_380, // 365 days
  "180": 2_920, // 365 days
  "240": 2_190, // 365 days
  D: 3_660, // 10 years
  W: 1_044, // 20 years
  M: 240, // 20 years
};

const INITIAL_SERIES_CAPACITY = 16;
const SERIAL_VERSION = 1;

export interface Candle {
  /** Open time of the bucket, ms since the epoch (EXMO's `t`). */
  openTimeMs: number;
  openTicks: number;
  highTicks: number;
  lowTicks: number;
  closeTicks: number;
  volumeLots: bigint;
}

export function isResolution(value: string): value is Resolution {
  return (RESOLUTIONS as readonly string[]).includes(value);
}

function minutesOf(resolution: Resolution): number {
  if (resolution === "D" || resolution === "W" || resolution === "M") return 0;
  return Number(resolution);
}

/** Open time of the bucket holding `timestampMs`. */
export function bucketStartMs(resolution: Resolution, timestampMs: number): number {
  if (!Number.isSafeInteger(timestampMs)) throw new RangeError("timestamp must be a safe integer");
  const minutes = minutesOf(resolution);
  if (minutes > 0) return floorTo(timestampMs, minutes * MS_PER_MINUTE);
  if (resolution === "D") return floorTo(timestampMs, MS_PER_DAY);
  if (resolution === "W") {
    const day = Math.floor(timestampMs / MS_PER_DAY);
    // Day 0 (1970-01-01) was a Thursday: 3 days after Monday.
    const daysSinceMonday = (((day + 3) % 7) + 7) % 7;
    return (day - daysSinceMonday) * MS_PER_DAY;
  }
  const date = new Date(timestampMs);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
}

function floorTo(value: number, step: number): number {
  return Math.floor(value / step) * step;
}

/** Candles of one resolution of one market, oldest first, in a ring bounded by `retention`. */
export class CandleSeries {
  private openTimeMs = new Float64Array(0);
  private openTicks = new Uint32Array(0);
  private highTicks = new Uint32Array(0);
  private lowTicks = new Uint32Array(0);
  private closeTicks = new Uint32Array(0);
  private volumeLots = new ExactSums(0);
  /** Ring slot of the oldest candle. */
  private head = 0;
  private count = 0;

  constructor(
    readonly resolution: Resolution,
    readonly retention: number = CANDLE_RETENTION[resolution],
  ) {
    if (!Number.isInteger(retention) || retention < 1) throw new RangeError("retention must be >= 1");
  }

  get size(): number {
    return this.count;
  }

  /** Adds a trade at `timestampMs`, which must not be before the newest candle's bucket. */
  record(timestampMs: number, priceTicks: number, lots: number): void {
    const openTimeMs = bucketStartMs(this.resolution, timestampMs);
    if (this.count > 0) {
      const newest = this.slot(this.count - 1);
      const newestOpenMs = this.openTimeMs[newest];
      if (openTimeMs < newestOpenMs) throw new RangeError("candles are append-only: trade before the newest");
      if (openTimeMs === newestOpenMs) {
        this.extend(newest, priceTicks, lots);
        return;
      }
    }
    this.append(openTimeMs, priceTicks, priceTicks, priceTicks, priceTicks, lots);
  }

  /**
   * Candles with fromMs <= openTimeMs <= toMs, oldest first. When more match than `limit`
   * (at most MAX_CANDLES_PER_QUERY), the newest `limit` of them: charts load from the right edge.
   */
  query(fromMs: number, toMs: number, limit: number = MAX_CANDLES_PER_QUERY): Candle[] {
    if (!Number.isInteger(limit) || limit < 0 || limit > MAX_CANDLES_PER_QUERY)
      throw new RangeError(`candle limit must be an integer in 0..${MAX_CANDLES_PER_QUERY}`);
    const first = this.firstIndexAtOrAfter(fromMs);
    const end = this.firstIndexAtOrAfter(toMs + 1);
    const start = Math.max(first, end - limit);
    const candles: Candle[] = [];
    for (let index = start; index < end; index++) candles.push(this.candleAt(index));
    return candles;
  }

  /** All candles, oldest first (for serialization). */
  all(): Candle[] {
    const candles: Candle[] = new Array(this.count);
    for (let index = 0; index < this.count; index++) candles[index] = this.candleAt(index);
    return candles;
  }

  /** Appends a whole candle (restore); it must open after the newest. */
  appendCandle(candle: Candle): void {
    if (this.count > 0 && candle.openTimeMs <= this.openTimeMs[this.slot(this.count - 1)])
      throw new RangeError("candles must be in increasing open time");
    this.append(candle.openTimeMs, candle.openTicks, candle.highTicks, candle.lowTicks, candle.closeTicks, 0);
    this.volumeLots.set(this.slot(this.count - 1), candle.volumeLots);
  }

  private candleAt(index: number): Candle {
    const slot = this.slot(index);
    return {
      openTimeMs: this.openTimeMs[slot],
      openTicks: this.openTicks[slot],
      highTicks: this.highTicks[slot],
      lowTicks: this.lowTicks[slot],
      closeTicks: this.closeTicks[slot],
      volumeLots: this.volumeLots.get(slot),
    };
  }

  /** Logical index (0 = oldest) of the first candle opening at or after `timeMs`. */
  private firstIndexAtOrAfter(timeMs: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.openTimeMs[this.slot(middle)] < timeMs) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private slot(index: number): number {
    const slot = this.head + index;
    const capacity = this.openTimeMs.length;
    return slot >= capacity ? slot - capacity : slot;
  }

  private extend(slot: number, priceTicks: number, lots: number): void {
    if (priceTicks > this.highTicks[slot]) this.highTicks[slot] = priceTicks;
    if (priceTicks < this.lowTicks[slot]) this.lowTicks[slot] = priceTicks;
    this.closeTicks[slot] = priceTicks;
    this.volumeLots.add(slot, lots);
  }

  private append(
    openTimeMs: number,
    openTicks: number,
    highTicks: number,
    lowTicks: number,
    closeTicks: number,
    lots: number,
  ): void {
    if (this.count === this.openTimeMs.length && this.count < this.retention) this.grow();
    let slot: number;
    if (this.count === this.retention) {
      // Full: the oldest candle's slot becomes the newest.
      slot = this.head;
      this.head = this.slot(1);
    } else {
      slot = this.slot(this.count);
      this.count += 1;
    }
    this.openTimeMs[slot] = openTimeMs;
    this.openTicks[slot] = openTicks;
    this.highTicks[slot] = highTicks;
    this.lowTicks[slot] = lowTicks;
    this.closeTicks[slot] = closeTicks;
    this.volumeLots.clear(slot);
    this.volumeLots.add(slot, lots);
  }

  /** Doubles the ring (up to retention), unwrapping it so the oldest candle is at slot 0. */
  private grow(): void {
    const capacity = Math.min(this.retention, Math.max(INITIAL_SERIES_CAPACITY, this.count * 2));
    const openTimeMs = new Float64Array(capacity);
    const openTicks = new Uint32Array(capacity);
    const highTicks = new Uint32Array(capacity);
    const lowTicks = new Uint32Array(capacity);
    const closeTicks = new Uint32Array(capacity);
    const volumeLots = new ExactSums(capacity);
    for (let index = 0; index < this.count; index++) {
      const slot = this.slot(index);
      openTimeMs[index] = this.openTimeMs[slot];
      openTicks[index] = this.openTicks[slot];
      highTicks[index] = this.highTicks[slot];
      lowTicks[index] = this.lowTicks[slot];
      closeTicks[index] = this.closeTicks[slot];
      volumeLots.set(index, this.volumeLots.get(slot));
    }
    this.openTimeMs = openTimeMs;
    this.openTicks = openTicks;
    this.highTicks = highTicks;
    this.lowTicks = lowTicks;
    this.closeTicks = closeTicks;
    this.volumeLots = volumeLots;
    this.head = 0;
  }
}

/** Serialized candles of one market: per resolution, oldest first, `[t, o, h, l, c, "volume"]`. */
export interface MarketCandlesJson {
  version: number;
  marketId: number;
  latestMs: number;
  series: Record<Resolution, Array<[number, number, number, number, number, string]>>;
}

/** Every resolution of one market. */
export class MarketCandles {
  private readonly series: Record<Resolution, CandleSeries>;
  /** The latest trade time seen: later trades stamped earlier are counted at this time. */
  private latestMs = 0;

  constructor(
    readonly marketId: number,
    retention: Readonly<Record<Resolution, number>> = CANDLE_RETENTION,
  ) {
    const series = {} as Record<Resolution, CandleSeries>;
    for (const resolution of RESOLUTIONS)
      series[resolution] = new CandleSeries(resolution, retention[resolution]);
    this.series = series;
  }

  record(trade: TradeEvent): void {
    this.latestMs = Math.max(this.latestMs, trade.timestampMs);
    for (const resolution of RESOLUTIONS)
      this.series[resolution].record(this.latestMs, trade.priceTicks, trade.quantityLots);
  }

  query(
    resolution: Resolution,
    fromMs: number,
    toMs: number,
    limit: number = MAX_CANDLES_PER_QUERY,
  ): Candle[] {
    return this.series[resolution].query(fromMs, toMs, limit);
  }

  toJSON(): MarketCandlesJson {
    const series = {} as MarketCandlesJson["series"];
    for (const resolution of RESOLUTIONS)
      series[resolution] = this.series[resolution]
        .all()
        .map((c) => [
          c.openTimeMs,
          c.openTicks,
          c.highTicks,
          c.lowTicks,
          c.closeTicks,
          c.volumeLots.toString(),
        ]);
    return { version: SERIAL_VERSION, marketId: this.marketId, latestMs: this.latestMs, series };
  }

  /** Rebuilds candles saved by toJSON; throws on anything malformed rather than serve bad charts. */
  static fromJSON(
    json: unknown,
    retention: Readonly<Record<Resolution, number>> = CANDLE_RETENTION,
  ): MarketCandles {
    const data = json as Partial<MarketCandlesJson> | null;
    if (typeof data !== "object" || data === null || data.version !== SERIAL_VERSION)
      throw new Error("candles: unknown serialization version");
    if (!isSafeNonNegative(data.marketId) || !isSafeNonNegative(data.latestMs))
      throw new Error("candles: bad marketId or latestMs");
    if (typeof data.series !== "object" || data.series === null) throw new Error("candles: missing series");
    const candles = new MarketCandles(data.marketId, retention);
    candles.latestMs = data.latestMs;
    for (const resolution of RESOLUTIONS) {
      const rows: unknown = data.series[resolution];
      if (!Array.isArray(rows)) throw new Error(`candles: missing series ${resolution}`);
      if (rows.length > retention[resolution]) throw new Error(`candles: too many ${resolution} candles`);
      for (const row of rows)
        candles.series[resolution].appendCandle(parseRow(resolution, row, data.latestMs));
    }
    return candles;
  }
}

function isSafeNonNegative(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

const VOLUME_DIGITS = /^(0|[1-9][0-9]{0,30})$/;

function parseRow(resolution: Resolution, row: unknown, latestMs: number): Candle {
  if (!Array.isArray(row) || row.length !== 6) throw new Error(`candles: bad ${resolution} row`);
  const [openTimeMs, openTicks, highTicks, lowTicks, closeTicks, volume] = row as unknown[];
  const prices = [openTicks, highTicks, lowTicks, closeTicks];
  if (!isSafeNonNegative(openTimeMs) || bucketStartMs(resolution, openTimeMs) !== openTimeMs)
    throw new Error(`candles: ${resolution} open time not on a bucket boundary`);
  if (openTimeMs > latestMs) throw new Error(`candles: ${resolution} candle after latestMs`);
  if (!prices.every((price) => isSafeNonNegative(price) && price >= 1 && price <= 0xffff_ffff))
    throw new Error(`candles: bad ${resolution} prices`);
  const [open, high, low, close] = prices as number[];
  if (low > Math.min(open, close) || high < Math.max(open, close))
    throw new Error(`candles: ${resolution} low/high do not bound open/close`);
  if (typeof volume !== "string" || !VOLUME_DIGITS.test(volume) || volume === "0")
    throw new Error(`candles: bad ${resolution} volume`);
  return {
    openTimeMs,
    openTicks: open,
    highTicks: high,
    lowTicks: low,
    closeTicks: close,
    volumeLots: BigInt(volume),
  };
}
