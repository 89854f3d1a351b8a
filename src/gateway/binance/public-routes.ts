// Binance Spot API v3 public endpoints (docs/API.md#binance-spot-api-v3), read through the
// ExchangeBoundary like the EXMO ones (exmo/public-routes.ts): market data from MarketData's
// snapshots (at most SOURCE_MAX_AGE_MS old), reference data from the market map. Unlike EXMO, an
// unknown symbol is an error (-1121), as on Binance.

import type { ExchangeBoundary, MarketContext } from "../../exchange/boundary.ts";
import { type Candle, MS_PER_DAY, type Resolution } from "../../marketdata/candles.ts";
import { MAX_CANDLES_PER_QUERY, MAX_DEPTH_LEVELS, MS_PER_MINUTE } from "../../marketdata/limits.ts";
import type { PublicTrade } from "../../marketdata/trades.ts";
import { SOURCE_MAX_AGE_MS } from "../exmo/public-snapshots.ts";
import { BinanceFailure } from "./errors.ts";
import {
  binanceSymbol,
  depthLevels,
  exchangeInfoSymbol,
  formatAggTrade,
  formatKline,
  formatTrade,
  ratioPrice,
} from "./format.ts";

/** A query's parameters by name (each at most once). */
export type BinanceQuery = Readonly<Record<string, string>>;

export interface BinanceRoute {
  /** Path after the server root, e.g. "/api/v3/depth". */
  url: string;
  /** The guard's weight row (guard/route-costs.ts), "binance:<name>". */
  costPath: string;
  handle(query: BinanceQuery): Promise<unknown> | unknown;
}

export interface BinancePublicContext {
  exchange: ExchangeBoundary;
  /** Milliseconds since the epoch; default Date.now. */
  clock?: () => number;
}

const DEPTH_DEFAULT = 100;
/** Binance's maximum; Bulwark's books hold MAX_DEPTH_LEVELS, so larger limits are truncated there (as Binance truncates past 5000). */
const DEPTH_MAX = 5_000;
const TRADES_DEFAULT = 500;
const TRADES_MAX = 1_000;
const KLINES_DEFAULT = 500;
const KLINES_MAX = 1_000;
/** Symbols one `symbols=[…]` list may name (Bulwark holds at most 1,024 markets). */
const MAX_SYMBOLS_PER_REQUEST = 100;
const MAX_SYMBOLS_TEXT = MAX_SYMBOLS_PER_REQUEST * 24;
const MAX_TIME_MS = 1e15;
const AVG_PRICE_MINUTES = 5;
const WINDOW_24H_MS = MS_PER_DAY;
const SYMBOL_PATTERN = /^[A-Z0-9\-_.]{1,20}$/;

/** A Binance interval: served straight from a Bulwark resolution, or aggregated from one. */
interface IntervalSource {
  resolution: Resolution;
  /** Epoch-aligned bucket of the derived interval; absent: the resolution's own buckets. */
  derivedBucketMs?: number;
}

const HOUR_MS = 60 * MS_PER_MINUTE;

/**
 * Binance intervals onto Bulwark's candle resolutions (marketdata/candles.ts). 3m, 6h, 8h, 12h and
 * 3d are derived exactly by aggregating whole smaller candles (each divides the UTC day or, for
 * 3d, lies on the epoch grid as Binance's do); 1s is refused with -1120 (Bulwark keeps no
 * second candles). A derived interval reaches as far back as its source's retention.
 */
export const BINANCE_INTERVALS: Readonly<Record<string, IntervalSource>> = {
  "1m": { resolution: "1" },
  "3m": { resolution: "1", derivedBucketMs: 3 * MS_PER_MINUTE },
  "5m": { resolution: "5" },
  "15m": { resolution: "15" },
  "30m": { resolution: "30" },
  "1h": { resolution: "60" },
  "2h": { resolution: "120" },
  "4h": { resolution: "240" },
  "6h": { resolution: "120", derivedBucketMs: 6 * HOUR_MS },
  "8h": { resolution: "240", derivedBucketMs: 8 * HOUR_MS },
  "12h": { resolution: "240", derivedBucketMs: 12 * HOUR_MS },
  "1d": { resolution: "D" },
  "3d": { resolution: "D", derivedBucketMs: 3 * MS_PER_DAY },
  "1w": { resolution: "W" },
  "1M": { resolution: "M" },
};

// ---- parameters -----------------------------------------------------------------------------

function illegal(name: string, legalRange: string): BinanceFailure {
  return new BinanceFailure(
    "illegalChars",
    name,
    `Illegal characters found in parameter '${name}'; legal range is '${legalRange}'.`,
  );
}

/** An optional integer parameter in [min, max]; Binance's -1100 with the legal range otherwise. */
function optionalInt(query: BinanceQuery, name: string, fallback: number, min: number, max: number): number {
  const text = query[name];
  if (text === undefined) return fallback;
  if (text === "") throw new BinanceFailure("paramEmpty", name);
  if (!/^[0-9]{1,16}$/.test(text)) throw illegal(name, "^[0-9]{1,16}$");
  const value = Number(text);
  if (value < min || value > max) throw illegal(name, `${min}..${max}`);
  return value;
}

function optionalTime(query: BinanceQuery, name: string): number | undefined {
  if (query[name] === undefined) return undefined;
  return optionalInt(query, name, 0, 0, MAX_TIME_MS);
}

/** Markets by Binance symbol, rebuilt per request (at most MAX_MARKETS; markets may be added live). */
function marketsBySymbol(exchange: ExchangeBoundary): Map<string, MarketContext> {
  return new Map(exchange.markets().map((market) => [binanceSymbol(market), market]));
}

export function requireSymbol(exchange: ExchangeBoundary, query: BinanceQuery): MarketContext {
  const text = query.symbol;
  if (text === undefined || text === "") throw new BinanceFailure("mandatoryParamMissing", "symbol");
  return lookupSymbol(marketsBySymbol(exchange), text);
}

function lookupSymbol(markets: Map<string, MarketContext>, text: string): MarketContext {
  if (!SYMBOL_PATTERN.test(text)) throw illegal("symbol", "^[A-Z0-9-_.]{1,20}$");
  const market = markets.get(text);
  if (market === undefined) throw new BinanceFailure("invalidSymbol");
  return market;
}

/**
 * `symbol=` or `symbols=["A","B"]` (never both), each known; neither: every market, in id order.
 */
function selectMarkets(exchange: ExchangeBoundary, query: BinanceQuery): MarketContext[] {
  const markets = marketsBySymbol(exchange);
  if (query.symbol !== undefined && query.symbols !== undefined)
    throw new BinanceFailure("badParameterCombination");
  if (query.symbol !== undefined) return [lookupSymbol(markets, query.symbol)];
  if (query.symbols === undefined) return [...markets.values()];
  const names = parseSymbolList(query.symbols);
  const seen = new Set<string>();
  const selected: MarketContext[] = [];
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    selected.push(lookupSymbol(markets, name));
  }
  return selected;
}

const SYMBOLS_RANGE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}")*)?\\]$';

function parseSymbolList(text: string): string[] {
  if (text.length > MAX_SYMBOLS_TEXT) throw new BinanceFailure("tooManyParameters");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw illegal("symbols", SYMBOLS_RANGE);
  }
  if (!Array.isArray(parsed) || parsed.some((name) => typeof name !== "string" || !SYMBOL_PATTERN.test(name)))
    throw illegal("symbols", SYMBOLS_RANGE);
  if (parsed.length === 0) throw new BinanceFailure("paramEmpty", "symbols");
  if (parsed.length > MAX_SYMBOLS_PER_REQUEST) throw new BinanceFailure("tooManyParameters");
  return parsed as string[];
}

/** Oldest first, from MarketData's ring (newest first, at most TRADE_RING_CAPACITY). */
function tradesOldestFirst(exchange: ExchangeBoundary, market: MarketContext): PublicTrade[] {
  return [...(exchange.marketData.trades(market.config.marketId, SOURCE_MAX_AGE_MS) ?? [])].reverse();
}

// ---- klines ---------------------------------------------------------------------------------

/** Close time of a candle: one millisecond before the next bucket opens. */
function closeTimeMs(source: IntervalSource, openTimeMs: number): number {
  if (source.derivedBucketMs !== undefined) return openTimeMs + source.derivedBucketMs - 1;
  if (source.resolution === "M") {
    const date = new Date(openTimeMs);
    return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) - 1;
  }
  if (source.resolution === "W") return openTimeMs + 7 * MS_PER_DAY - 1;
  if (source.resolution === "D") return openTimeMs + MS_PER_DAY - 1;
  return openTimeMs + Number(source.resolution) * MS_PER_MINUTE - 1;
}

/** Longest bucket of a resolution (a month taken as 31 days), to bound a range by a count. */
function longestBucketMs(source: IntervalSource): number {
  if (source.derivedBucketMs !== undefined) return source.derivedBucketMs;
  if (source.resolution === "M") return 31 * MS_PER_DAY;
  return closeTimeMs(source, 0) + 1;
}

/** Whole source candles merged into epoch-aligned buckets (source oldest first, so is the result). */
function aggregate(candles: readonly Candle[], bucketMs: number): Candle[] {
  const merged: Candle[] = [];
  for (const candle of candles) {
    const openTimeMs = Math.floor(candle.openTimeMs / bucketMs) * bucketMs;
    const last = merged.at(-1);
    if (last === undefined || last.openTimeMs !== openTimeMs) {
      merged.push({ ...candle, openTimeMs });
      continue;
    }
    last.highTicks = Math.max(last.highTicks, candle.highTicks);
    last.lowTicks = Math.min(last.lowTicks, candle.lowTicks);
    last.closeTicks = candle.closeTicks;
    last.volumeLots += candle.volumeLots;
  }
  return merged;
}

function klines(exchange: ExchangeBoundary, query: BinanceQuery, nowMs: number) {
  const market = requireSymbol(exchange, query);
  const intervalText = query.interval;
  if (intervalText === undefined || intervalText === "")
    throw new BinanceFailure("mandatoryParamMissing", "interval");
  const source = Object.hasOwn(BINANCE_INTERVALS, intervalText) ? BINANCE_INTERVALS[intervalText] : undefined;
  if (source === undefined) throw new BinanceFailure("invalidInterval");
  const limit = optionalInt(query, "limit", KLINES_DEFAULT, 1, KLINES_MAX);
  const startMs = optionalTime(query, "startTime");
  const endMs = optionalTime(query, "endTime");
  if (startMs !== undefined && endMs !== undefined && startMs > endMs) return [];
  const bucketMs = longestBucketMs(source);
  // Binance: klines whose open time is in [startTime, endTime]; the first `limit` from a start,
  // else the newest `limit` up to the end (or now).
  let fromMs: number;
  let toMs: number;
  if (startMs !== undefined) {
    fromMs = startMs;
    toMs = Math.min(endMs ?? Number.MAX_SAFE_INTEGER, startMs + (limit + 1) * bucketMs);
  } else {
    toMs = endMs ?? nowMs;
    fromMs = Math.max(0, toMs - (limit + 1) * bucketMs);
  }
  // A derived bucket opening at or before toMs takes every source candle up to its close.
  const sourceToMs =
    source.derivedBucketMs === undefined
      ? toMs
      : Math.floor(toMs / source.derivedBucketMs) * source.derivedBucketMs + source.derivedBucketMs - 1;
  const raw =
    exchange.marketData.candles(
      market.config.marketId,
      source.resolution,
      fromMs,
      sourceToMs,
      MAX_CANDLES_PER_QUERY,
    ) ?? [];
  const candles = (
    source.derivedBucketMs === undefined ? raw : aggregate(raw, source.derivedBucketMs)
  ).filter((candle) => candle.openTimeMs >= fromMs && candle.openTimeMs <= toMs);
  const chosen = startMs !== undefined ? candles.slice(0, limit) : candles.slice(-limit);
  return chosen.map((candle) => formatKline(market, candle, closeTimeMs(source, candle.openTimeMs)));
}

// ---- tickers --------------------------------------------------------------------------------

/** Signed decimal of a tick difference (formatPrice takes non-negative ticks only). */
function signedPrice(market: MarketContext, differenceTicks: number): string {
  const text = market.units.formatPrice(Math.abs(differenceTicks));
  return differenceTicks < 0 ? `-${text}` : text;
}

/** (last − open) / open × 100 at 3 decimals, rounded toward zero, as Binance writes it. */
function changePercent(openTicks: number, lastTicks: number): string {
  if (openTicks === 0) return "0.000";
  const thousandths = (BigInt(lastTicks - openTicks) * 100_000n) / BigInt(openTicks);
  const magnitude = thousandths < 0n ? -thousandths : thousandths;
  const text = `${magnitude / 1000n}.${(magnitude % 1000n).toString().padStart(3, "0")}`;
  return thousandths < 0n ? `-${text}` : text;
}

function ticker24hr(exchange: ExchangeBoundary, market: MarketContext, nowMs: number, mini: boolean) {
  const marketId = market.config.marketId;
  const units = market.units;
  const ticker = exchange.marketData.tickers(SOURCE_MAX_AGE_MS).find((row) => row.marketId === marketId);
  const windowStartMs = nowMs - WINDOW_24H_MS;
  // The window's open: the first minute candle in it; the previous close: the last one before it.
  const firstMinute = exchange.marketData.candles(
    marketId,
    "1",
    windowStartMs,
    nowMs,
    MAX_CANDLES_PER_QUERY,
  )?.[0];
  const previousMinute = exchange.marketData.candles(marketId, "1", 0, windowStartMs - 1, 1)?.[0];
  const lastTicks = ticker?.lastPriceTicks ?? 0;
  const openTicks = firstMinute?.openTicks ?? lastTicks;
  const window = tradesOldestFirst(exchange, market).filter((trade) => trade.timestampMs >= windowStartMs);
  const newest = window.at(-1);
  const volumeLots = ticker?.volumeBaseLots ?? 0n;
  const common = {
    symbol: binanceSymbol(market),
    openPrice: units.formatPrice(openTicks),
    highPrice: units.formatPrice(ticker?.highTicks ?? 0),
    lowPrice: units.formatPrice(ticker?.lowTicks ?? 0),
    lastPrice: units.formatPrice(lastTicks),
    volume: units.formatBase(volumeLots * units.lotSizeBaseUnits),
    quoteVolume: units.formatQuote(ticker?.volumeQuoteUnits ?? 0n),
    openTime: windowStartMs,
    closeTime: nowMs,
    // From the trade ring (the newest 1,000 trades): exact unless the day held more.
    firstId: window[0]?.tradeId ?? -1,
    lastId: newest?.tradeId ?? -1,
    count: window.length,
  };
  if (mini) return common;
  const book = exchange.marketData.orderBook(marketId, 1, SOURCE_MAX_AGE_MS);
  const bid = book?.bids[0];
  const ask = book?.asks[0];
  const average = ticker?.averagePriceTicks;
  return {
    symbol: common.symbol,
    priceChange: signedPrice(market, lastTicks - openTicks),
    priceChangePercent: changePercent(openTicks, lastTicks),
    weightedAvgPrice:
      average === undefined
        ? units.formatPrice(0)
        : ratioPrice(market, average.numerator, average.denominator),
    prevClosePrice: units.formatPrice(previousMinute?.closeTicks ?? 0),
    lastPrice: common.lastPrice,
    lastQty: units.formatQuantity(newest?.quantityLots ?? 0),
    bidPrice: units.formatPrice(bid?.priceTicks ?? 0),
    bidQty: units.formatQuantity(bid?.quantityLots ?? 0),
    askPrice: units.formatPrice(ask?.priceTicks ?? 0),
    askQty: units.formatQuantity(ask?.quantityLots ?? 0),
    openPrice: common.openPrice,
    highPrice: common.highPrice,
    lowPrice: common.lowPrice,
    volume: common.volume,
    quoteVolume: common.quoteVolume,
    openTime: common.openTime,
    closeTime: common.closeTime,
    firstId: common.firstId,
    lastId: common.lastId,
    count: common.count,
  };
}

/** One object for `symbol=`, else an array (Binance's shape rule for the ticker endpoints). */
function oneOrMany<T>(query: BinanceQuery, rows: T[]): T | T[] {
  return query.symbol !== undefined ? (rows[0] as T) : rows;
}

function avgPrice(exchange: ExchangeBoundary, market: MarketContext, nowMs: number) {
  const sinceMs = nowMs - AVG_PRICE_MINUTES * MS_PER_MINUTE;
  const recent = tradesOldestFirst(exchange, market).filter((trade) => trade.timestampMs >= sinceMs);
  if (recent.length === 0) {
    // No trade in the window: the last price, as Binance answers for an idle symbol.
    const ticker = exchange.marketData
      .tickers(SOURCE_MAX_AGE_MS)
      .find((row) => row.marketId === market.config.marketId);
    return {
      mins: AVG_PRICE_MINUTES,
      price: ratioPrice(market, BigInt(ticker?.lastPriceTicks ?? 0), 1n),
      closeTime: nowMs,
    };
  }
  let notionalUnits = 0n;
  let lots = 0n;
  for (const trade of recent) {
    notionalUnits += BigInt(trade.notionalUnits);
    lots += BigInt(trade.quantityLots);
  }
  return {
    mins: AVG_PRICE_MINUTES,
    price: ratioPrice(market, notionalUnits, lots * market.units.quoteUnitsPerTickLot),
    closeTime: (recent.at(-1) as PublicTrade).timestampMs,
  };
}

function recentTrades(exchange: ExchangeBoundary, query: BinanceQuery) {
  const market = requireSymbol(exchange, query);
  const limit = optionalInt(query, "limit", TRADES_DEFAULT, 1, TRADES_MAX);
  return tradesOldestFirst(exchange, market)
    .slice(-limit)
    .map((trade) => formatTrade(market, trade));
}

function aggTrades(exchange: ExchangeBoundary, query: BinanceQuery) {
  const market = requireSymbol(exchange, query);
  const limit = optionalInt(query, "limit", TRADES_DEFAULT, 1, TRADES_MAX);
  const fromId = query.fromId === undefined ? undefined : optionalInt(query, "fromId", 0, 0, MAX_TIME_MS);
  const startMs = optionalTime(query, "startTime");
  const endMs = optionalTime(query, "endTime");
  if (fromId !== undefined && (startMs !== undefined || endMs !== undefined))
    throw new BinanceFailure("badParameterCombination");
  let trades = tradesOldestFirst(exchange, market);
  if (fromId !== undefined) trades = trades.filter((trade) => trade.tradeId >= fromId).slice(0, limit);
  else if (startMs !== undefined || endMs !== undefined) {
    trades = trades
      .filter(
        (trade) =>
          trade.timestampMs >= (startMs ?? 0) && trade.timestampMs <= (endMs ?? Number.MAX_SAFE_INTEGER),
      )
      .slice(0, limit);
  } else trades = trades.slice(-limit);
  return trades.map((trade) => formatAggTrade(market, trade));
}

// ---- routes ---------------------------------------------------------------------------------

/** Binance's published limits, scaled to Bulwark's guard (docs/API.md#rate-limits). */
const RATE_LIMITS = [
  { rateLimitType: "REQUEST_WEIGHT", interval: "MINUTE", intervalNum: 1, limit: 600 },
  { rateLimitType: "ORDERS", interval: "SECOND", intervalNum: 10, limit: 100 },
];

async function exchangeInfo(exchange: ExchangeBoundary, query: BinanceQuery, nowMs: number) {
  const markets = selectMarkets(exchange, query);
  const suspended = new Set(
    (await exchange.reads.markets()).filter((row) => row.status === "suspended").map((row) => row.marketId),
  );
  return {
    timezone: "UTC",
    serverTime: nowMs,
    rateLimits: RATE_LIMITS,
    exchangeFilters: [],
    symbols: markets.map((market) => exchangeInfoSymbol(market, !suspended.has(market.config.marketId))),
  };
}

export function binancePublicRoutes(context: BinancePublicContext): BinanceRoute[] {
  const { exchange } = context;
  const clock = context.clock ?? Date.now;
  return [
    { url: "/api/v3/ping", costPath: "binance:ping", handle: () => ({}) },
    { url: "/api/v3/time", costPath: "binance:time", handle: () => ({ serverTime: clock() }) },
    {
      url: "/api/v3/exchangeInfo",
      costPath: "binance:exchangeInfo",
      handle: (query) => exchangeInfo(exchange, query, clock()),
    },
    {
      url: "/api/v3/depth",
      costPath: "binance:depth",
      handle: (query) => {
        const market = requireSymbol(exchange, query);
        const limit = Math.min(MAX_DEPTH_LEVELS, optionalInt(query, "limit", DEPTH_DEFAULT, 1, DEPTH_MAX));
        const book = exchange.marketData.orderBook(market.config.marketId, limit, SOURCE_MAX_AGE_MS);
        return {
          lastUpdateId: book?.updateSequence ?? 0,
          bids: depthLevels(market, book?.bids ?? []),
          asks: depthLevels(market, book?.asks ?? []),
        };
      },
    },
    { url: "/api/v3/trades", costPath: "binance:trades", handle: (query) => recentTrades(exchange, query) },
    {
      url: "/api/v3/aggTrades",
      costPath: "binance:aggTrades",
      handle: (query) => aggTrades(exchange, query),
    },
    {
      url: "/api/v3/klines",
      costPath: "binance:klines",
      handle: (query) => klines(exchange, query, clock()),
    },
    {
      url: "/api/v3/ticker/24hr",
      costPath: "binance:ticker/24hr",
      handle: (query) => {
        const type = query.type ?? "FULL";
        if (type !== "FULL" && type !== "MINI") throw illegal("type", "FULL|MINI");
        const nowMs = clock();
        const rows = selectMarkets(exchange, query).map((market) =>
          ticker24hr(exchange, market, nowMs, type === "MINI"),
        );
        return oneOrMany(query, rows);
      },
    },
    {
      url: "/api/v3/ticker/price",
      costPath: "binance:ticker/price",
      handle: (query) => {
        const tickers = exchange.marketData.tickers(SOURCE_MAX_AGE_MS);
        const rows = selectMarkets(exchange, query).map((market) => {
          const ticker = tickers.find((row) => row.marketId === market.config.marketId);
          return {
            symbol: binanceSymbol(market),
            price: market.units.formatPrice(ticker?.lastPriceTicks ?? 0),
          };
        });
        return oneOrMany(query, rows);
      },
    },
    {
      url: "/api/v3/ticker/bookTicker",
      costPath: "binance:ticker/bookTicker",
      handle: (query) => {
        const rows = selectMarkets(exchange, query).map((market) => {
          const book = exchange.marketData.orderBook(market.config.marketId, 1, SOURCE_MAX_AGE_MS);
          const units = market.units;
          return {
            symbol: binanceSymbol(market),
            bidPrice: units.formatPrice(book?.bids[0]?.priceTicks ?? 0),
            bidQty: units.formatQuantity(book?.bids[0]?.quantityLots ?? 0),
            askPrice: units.formatPrice(book?.asks[0]?.priceTicks ?? 0),
            askQty: units.formatQuantity(book?.asks[0]?.quantityLots ?? 0),
          };
        });
        return oneOrMany(query, rows);
      },
    },
    {
      url: "/api/v3/avgPrice",
      costPath: "binance:avgPrice",
      handle: (query) => avgPrice(exchange, requireSymbol(exchange, query), clock()),
    },
    // ccxt's binance loads linear and inverse futures by default: Bulwark lists none.
    {
      url: "/fapi/v1/exchangeInfo",
      costPath: "binance:exchangeInfo",
      handle: () => ({
        timezone: "UTC",
        serverTime: clock(),
        rateLimits: RATE_LIMITS,
        exchangeFilters: [],
        assets: [],
        symbols: [],
      }),
    },
    {
      url: "/dapi/v1/exchangeInfo",
      costPath: "binance:exchangeInfo",
      handle: () => ({
        timezone: "UTC",
        serverTime: clock(),
        rateLimits: RATE_LIMITS,
        exchangeFilters: [],
        symbols: [],
      }),
    },
  ];
}
