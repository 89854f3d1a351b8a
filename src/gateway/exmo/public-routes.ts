// EXMO v1.1 public endpoints (docs/API.md#public-endpoints). Market data comes from the
// in-memory MarketData snapshots (at most SOURCE_MAX_AGE_MS old here: the gateway serves these
// answers from its own 100 ms snapshots, public-snapshots.ts), reference data from the
// exchange's asset and market maps. Unknown pairs are left out of answers, as EXMO does.

import { z } from "zod";
import type { CustodyPort } from "../../custody/port.ts";
import type { ExchangeBoundary, MarketContext } from "../../exchange/boundary.ts";
import { isResolution, MS_PER_DAY, type Resolution } from "../../marketdata/candles.ts";
import { DEFAULT_DEPTH_LEVELS, MAX_CANDLES_PER_QUERY, MAX_DEPTH_LEVELS } from "../../marketdata/limits.ts";
import { formatUnits } from "../../units/decimal.ts";
import { formatCandle, formatOrderBook, formatPublicTrade, formatTicker } from "./format.ts";
import { optionalInteger, parseInteger, parsePairList, parseQuantityLots, requireMarket } from "./parse.ts";
import { cryptoProviders } from "./providers.ts";
import { SOURCE_MAX_AGE_MS } from "./public-snapshots.ts";
import { ExmoFailure, type ExmoRoute, publicRoute, text } from "./route.ts";

/** Pairs one order_book / trades request may name. */
export const MAX_PAIRS_PER_REQUEST = 64;
const PAIR_LIST_LENGTH = MAX_PAIRS_PER_REQUEST * 21;
const DEFAULT_TRADES = 100;
const MAX_TRADES = 1_000;
/** Longest candle period, seconds, by resolution: a month is taken as 31 days. */
const SECONDS_PER_MINUTE = 60;
const MAX_SECONDS = 1e12;

/** Descriptions for the currencies Bulwark ships with; others show their code. */
export const CURRENCY_DESCRIPTIONS: Readonly<Record<string, string>> = {
  BTC: "Bitcoin",
  ETH: "Ethereum",
  USDT: "Tether",
  USD: "US Dollar",
};

function candleSeconds(resolution: Resolution): number {
  if (resolution === "D") return MS_PER_DAY / 1000;
  if (resolution === "W") return (7 * MS_PER_DAY) / 1000;
  if (resolution === "M") return (31 * MS_PER_DAY) / 1000;
  return Number(resolution) * SECONDS_PER_MINUTE;
}

function pairSettings(market: MarketContext) {
  const units = market.units;
  return {
    min_quantity: units.minQuantity,
    max_quantity: units.maxQuantity,
    min_price: units.minPrice,
    max_price: units.maxPrice,
    min_amount: units.minAmount,
    max_amount: units.maxAmount,
    price_precision: units.pricePrecision,
    commission_taker_percent: units.takerFeePercent,
    commission_maker_percent: units.makerFeePercent,
  };
}

/** Quote needed to buy `quantity` from the asks now (EXMO required_amount). */
function requiredAmount(exchange: ExchangeBoundary, market: MarketContext, quantityLots: number) {
  const book = exchange.marketData.orderBook(market.config.marketId, MAX_DEPTH_LEVELS, SOURCE_MAX_AGE_MS);
  let remainingLots = quantityLots;
  let amountUnits = 0n;
  for (const level of book?.asks ?? []) {
    if (remainingLots === 0) break;
    const lots = Math.min(remainingLots, level.quantityLots);
    amountUnits += market.units.notionalUnits(level.priceTicks, lots);
    remainingLots -= lots;
  }
  if (remainingLots > 0) throw new ExmoFailure("noLiquidity");
  const units = market.units;
  const quantityUnits = BigInt(quantityLots) * units.lotSizeBaseUnits;
  // avg_price = amount / quantity in quote per base, at the tick's precision, rounded down.
  const precision = units.pricePrecision;
  const avgSteps =
    (amountUnits * 10n ** BigInt(units.baseScale + precision)) /
    (quantityUnits * 10n ** BigInt(units.quoteScale));
  return {
    quantity: units.formatQuantity(quantityLots),
    amount: units.formatQuote(amountUnits),
    avg_price: formatUnits(avgSteps, precision),
  };
}

export interface PublicRouteContext {
  exchange: ExchangeBoundary;
  /** Milliseconds since the epoch, the `updated` of a ticker nothing happened on yet; default Date.now. */
  clock?: () => number;
  /** Deposit and withdrawal terms for payments/providers/crypto/list; null: every provider disabled. */
  custody: CustodyPort | null;
}

export function publicRoutes(context: PublicRouteContext): ExmoRoute[] {
  const { exchange, custody } = context;
  const clock = context.clock ?? Date.now;
  const knownMarkets = (pairs: string[]) =>
    pairs.flatMap((pair) => {
      const market = exchange.marketBySymbol(pair);
      return market === undefined ? [] : [market];
    });
  return [
    publicRoute({
      path: "pair_settings",
      summary: "Limits, precision and fees of every pair",
      priority: "publicData",
      params: z.object({}),
      handle: () =>
        Object.fromEntries(exchange.markets().map((market) => [market.units.symbol, pairSettings(market)])),
    }),
    publicRoute({
      path: "currency/list/extended",
      summary: "Currencies with descriptions",
      priority: "publicData",
      params: z.object({}),
      handle: () =>
        exchange.assets().map((asset) => ({
          name: asset.code,
          description: CURRENCY_DESCRIPTIONS[asset.code] ?? asset.code,
        })),
    }),
    publicRoute({
      path: "currency",
      summary: "Currency codes",
      priority: "publicData",
      params: z.object({}),
      handle: () => exchange.assets().map((asset) => asset.code),
    }),
    publicRoute({
      path: "payments/providers/crypto/list",
      summary: "Deposit and withdrawal providers per currency: network, limits, fee, confirmations",
      priority: "publicData",
      params: z.object({}),
      handle: () => cryptoProviders(exchange, custody),
    }),
    publicRoute({
      path: "ticker",
      summary: "24 h tickers of every pair",
      priority: "publicData",
      params: z.object({}),
      handle: () => {
        const result: Record<string, unknown> = {};
        const nowMs = clock();
        for (const ticker of exchange.marketData.tickers(SOURCE_MAX_AGE_MS)) {
          const market = exchange.market(ticker.marketId);
          if (market !== undefined) result[market.units.symbol] = formatTicker(market, ticker, nowMs);
        }
        return result;
      },
    }),
    publicRoute({
      path: "order_book",
      summary: "Order books of one or several comma-separated pairs (limit default 100, max 1000)",
      priority: "publicData",
      params: z.object({ pair: text(PAIR_LIST_LENGTH), limit: text(8).optional() }),
      handle: (params) => {
        const limit = optionalInteger("limit", params.limit, DEFAULT_DEPTH_LEVELS, 1, MAX_DEPTH_LEVELS);
        const pairs = parsePairList("pair", params.pair, MAX_PAIRS_PER_REQUEST);
        const result: Record<string, unknown> = {};
        for (const market of knownMarkets(pairs)) {
          const book = exchange.marketData.orderBook(market.config.marketId, limit, SOURCE_MAX_AGE_MS);
          if (book !== undefined) result[market.units.symbol] = formatOrderBook(market, book);
        }
        return result;
      },
    }),
    publicRoute({
      path: "trades",
      summary: "Newest trades of one or several comma-separated pairs, newest first",
      priority: "publicData",
      params: z.object({ pair: text(PAIR_LIST_LENGTH), limit: text(8).optional() }),
      handle: (params) => {
        const limit = optionalInteger("limit", params.limit, DEFAULT_TRADES, 1, MAX_TRADES);
        const pairs = parsePairList("pair", params.pair, MAX_PAIRS_PER_REQUEST);
        const result: Record<string, unknown> = {};
        for (const market of knownMarkets(pairs)) {
          const trades = exchange.marketData.trades(market.config.marketId, SOURCE_MAX_AGE_MS) ?? [];
          result[market.units.symbol] = trades
            .slice(0, limit)
            .map((trade) => formatPublicTrade(market, trade));
        }
        return result;
      },
    }),
    publicRoute({
      path: "candles_history",
      summary: "Candles of a pair: resolution 1,5,15,30,45,60,120,180,240,D,W,M; from/to in seconds",
      priority: "publicData",
      params: z.object({ symbol: text(32), resolution: text(3), from: text(16), to: text(16) }),
      handle: (params) => {
        if (!isResolution(params.resolution)) throw new ExmoFailure("invalidParameter", "resolution");
        const fromSeconds = parseInteger("from", params.from, 0, MAX_SECONDS);
        const toSeconds = parseInteger("to", params.to, 0, MAX_SECONDS);
        if (fromSeconds > toSeconds) throw new ExmoFailure("invalidParameter", "from");
        // ccxt asks for at most 3000 candles plus one second; allow one spare period either side.
        if (toSeconds - fromSeconds > (MAX_CANDLES_PER_QUERY + 2) * candleSeconds(params.resolution))
          throw new ExmoFailure("candleRangeTooLong");
        const market = exchange.marketBySymbol(params.symbol);
        if (market === undefined) return { candles: [] };
        const candles =
          exchange.marketData.candles(
            market.config.marketId,
            params.resolution,
            fromSeconds * 1000,
            toSeconds * 1000,
            MAX_CANDLES_PER_QUERY,
          ) ?? [];
        return { candles: candles.map((candle) => formatCandle(market, candle)) };
      },
    }),
    publicRoute({
      path: "required_amount",
      summary: "Quote amount needed to buy a quantity of a pair's base from the current asks",
      priority: "publicData",
      params: z.object({ pair: text(32), quantity: text(40) }),
      handle: (params) => {
        const market = requireMarket((symbol) => exchange.marketBySymbol(symbol), params.pair);
        return requiredAmount(exchange, market, parseQuantityLots(market, "quantity", params.quantity));
      },
    }),
  ];
}
