// Binance market stream payloads (docs/API.md#binance-market-streams), from Bulwark's integers:
// prices, quantities and amounts are formatted by the market's units, never through a double.
// Tickers and klines are the REST dialect's own answers (public-routes.ts) renamed to the stream
// fields, so a stream and the matching REST read always agree.

import type { ExchangeBoundary, MarketContext } from "../../../exchange/boundary.ts";
import { bucketStartMs, MS_PER_DAY } from "../../../marketdata/candles.ts";
import type { DepthLevel } from "../../../marketdata/depth.ts";
import { MS_PER_MINUTE } from "../../../marketdata/limits.ts";
import type { PublicTrade } from "../../../marketdata/trades.ts";
import { SOURCE_MAX_AGE_MS } from "../../exmo/public-snapshots.ts";
import { binanceSymbol, depthLevels, formatAggTrade } from "../format.ts";
import { BINANCE_INTERVALS, type BinanceRoute, binancePublicRoutes } from "../public-routes.ts";

export function tradePayload(market: MarketContext, trade: PublicTrade, eventMs: number): string {
  const units = market.units;
  return JSON.stringify({
    e: "trade",
    E: eventMs,
    s: binanceSymbol(market),
    t: trade.tradeId,
    p: units.formatPrice(trade.priceTicks),
    q: units.formatQuantity(trade.quantityLots),
    T: trade.timestampMs,
    // The taker sold: the buyer's order was resting.
    m: trade.takerSide === "sell",
    M: true,
  });
}

/** One trade as an aggregate of itself, as REST aggTrades answers. */
export function aggTradePayload(market: MarketContext, trade: PublicTrade, eventMs: number): string {
  return JSON.stringify({
    e: "aggTrade",
    E: eventMs,
    s: binanceSymbol(market),
    ...formatAggTrade(market, trade),
  });
}

export function depthUpdatePayload(
  market: MarketContext,
  eventMs: number,
  firstUpdateId: number,
  finalUpdateId: number,
  bids: readonly DepthLevel[],
  asks: readonly DepthLevel[],
): string {
  return JSON.stringify({
    e: "depthUpdate",
    E: eventMs,
    s: binanceSymbol(market),
    U: firstUpdateId,
    u: finalUpdateId,
    b: depthLevels(market, bids),
    a: depthLevels(market, asks),
  });
}

export function partialDepthPayload(
  market: MarketContext,
  lastUpdateId: number,
  bids: readonly DepthLevel[],
  asks: readonly DepthLevel[],
): string {
  return JSON.stringify({ lastUpdateId, bids: depthLevels(market, bids), asks: depthLevels(market, asks) });
}

/** Best bid and ask; an empty side is written as price 0, quantity 0 (as REST bookTicker). */
export function bookTickerPayload(
  market: MarketContext,
  updateId: number,
  bid: DepthLevel | undefined,
  ask: DepthLevel | undefined,
): string {
  const units = market.units;
  return JSON.stringify({
    u: updateId,
    s: binanceSymbol(market),
    b: units.formatPrice(bid?.priceTicks ?? 0),
    B: units.formatQuantity(bid?.quantityLots ?? 0),
    a: units.formatPrice(ask?.priceTicks ?? 0),
    A: units.formatQuantity(ask?.quantityLots ?? 0),
  });
}

/** REST's 24hr ticker (FULL) as public-routes.ts writes it. */
interface RestTicker {
  symbol: string;
  priceChange: string;
  priceChangePercent: string;
  weightedAvgPrice: string;
  prevClosePrice: string;
  lastPrice: string;
  lastQty: string;
  bidPrice: string;
  bidQty: string;
  askPrice: string;
  askQty: string;
  openPrice: string;
  highPrice: string;
  lowPrice: string;
  volume: string;
  quoteVolume: string;
  openTime: number;
  closeTime: number;
  firstId: number;
  lastId: number;
  count: number;
}

export type RestKline = [
  number,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  number,
  string,
  string,
  string,
];

/** Reads the REST dialect's ticker and kline answers for one market (synchronous routes). */
export class RestReads {
  private readonly ticker: BinanceRoute;
  private readonly klines: BinanceRoute;

  constructor(
    private readonly exchange: ExchangeBoundary,
    clock: () => number,
  ) {
    const routes = binancePublicRoutes({ exchange, clock });
    const byUrl = (url: string): BinanceRoute => {
      const route = routes.find((candidate) => candidate.url === url);
      if (route === undefined) throw new Error(`binance ws: REST route ${url} missing`);
      return route;
    };
    this.ticker = byUrl("/api/v3/ticker/24hr");
    this.klines = byUrl("/api/v3/klines");
  }

  tickerPayload(market: MarketContext, eventMs: number): Record<string, unknown> {
    const rest = this.ticker.handle({ symbol: binanceSymbol(market) }) as RestTicker;
    return {
      e: "24hrTicker",
      E: eventMs,
      s: rest.symbol,
      p: rest.priceChange,
      P: rest.priceChangePercent,
      w: rest.weightedAvgPrice,
      x: rest.prevClosePrice,
      c: rest.lastPrice,
      Q: rest.lastQty,
      b: rest.bidPrice,
      B: rest.bidQty,
      a: rest.askPrice,
      A: rest.askQty,
      o: rest.openPrice,
      h: rest.highPrice,
      l: rest.lowPrice,
      v: rest.volume,
      q: rest.quoteVolume,
      O: rest.openTime,
      C: rest.closeTime,
      F: rest.firstId,
      L: rest.lastId,
      n: rest.count,
    };
  }

  miniTickerPayload(market: MarketContext, eventMs: number): Record<string, unknown> {
    const rest = this.ticker.handle({ symbol: binanceSymbol(market), type: "MINI" }) as RestTicker;
    return {
      e: "24hrMiniTicker",
      E: eventMs,
      s: rest.symbol,
      c: rest.lastPrice,
      o: rest.openPrice,
      h: rest.highPrice,
      l: rest.lowPrice,
      v: rest.volume,
      q: rest.quoteVolume,
    };
  }

  /** The kline opening at `openTimeMs` (REST klines, startTime, limit 1), or null when none traded in it. */
  klineAt(market: MarketContext, interval: string, openTimeMs: number): RestKline | null {
    const rows = this.klines.handle({
      symbol: binanceSymbol(market),
      interval,
      startTime: String(openTimeMs),
      limit: "1",
    }) as RestKline[];
    const row = rows[0];
    return row !== undefined && row[0] === openTimeMs ? row : null;
  }

  /**
   * The kline of the interval's current bucket: REST's candle when the market traded in it, else,
   * as Binance pushes for a quiet interval, one with open = high = low = close = the last trade's
   * price and no volume; null when the market never traded.
   */
  currentKline(market: MarketContext, interval: string, eventMs: number): RestKline | null {
    const { openTimeMs, closeTimeMs } = intervalBounds(interval, eventMs);
    const row = this.klineAt(market, interval, openTimeMs);
    if (row !== null) return row;
    const last = this.exchange.marketData.trades(market.config.marketId, SOURCE_MAX_AGE_MS)?.[0];
    if (last === undefined) return null;
    const price = market.units.formatPrice(last.priceTicks);
    const none = market.units.formatBase(0n);
    return [openTimeMs, price, price, price, price, none, closeTimeMs, "0", 0, "0", "0", "0"];
  }

  /** Trade ids are not kept per candle: f and L are -1; n, q, V and Q as REST writes them (docs/API.md#binance-spot). */
  klinePayload(
    market: MarketContext,
    interval: string,
    row: RestKline,
    closed: boolean,
    eventMs: number,
  ): string {
    const symbol = binanceSymbol(market);
    return JSON.stringify({
      e: "kline",
      E: eventMs,
      s: symbol,
      k: {
        t: row[0],
        T: row[6],
        s: symbol,
        i: interval,
        f: -1,
        L: -1,
        o: row[1],
        c: row[4],
        h: row[2],
        l: row[3],
        v: row[5],
        n: row[8],
        x: closed,
        q: row[7],
        V: row[9],
        Q: row[10],
        B: "0",
      },
    });
  }
}

/** The bucket of a Binance interval holding `timestampMs` (REST klines' buckets: public-routes.ts). */
export function intervalBounds(
  interval: string,
  timestampMs: number,
): { openTimeMs: number; closeTimeMs: number } {
  const source = BINANCE_INTERVALS[interval];
  if (source === undefined) throw new RangeError(`unknown interval ${interval}`);
  if (source.derivedBucketMs !== undefined) {
    const openTimeMs = Math.floor(timestampMs / source.derivedBucketMs) * source.derivedBucketMs;
    return { openTimeMs, closeTimeMs: openTimeMs + source.derivedBucketMs - 1 };
  }
  const openTimeMs = bucketStartMs(source.resolution, timestampMs);
  if (source.resolution === "M") {
    const date = new Date(openTimeMs);
    return { openTimeMs, closeTimeMs: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) - 1 };
  }
  const lengthMs =
    source.resolution === "W"
      ? 7 * MS_PER_DAY
      : source.resolution === "D"
        ? MS_PER_DAY
        : Number(source.resolution) * MS_PER_MINUTE;
  return { openTimeMs, closeTimeMs: openTimeMs + lengthMs - 1 };
}
