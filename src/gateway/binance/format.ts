// Binance Spot API v3 answer shapes, from Bulwark's integers: every decimal string is computed
// exactly from a market's integer config (src/units/market-units.ts), never through a double.

import type { MarketContext } from "../../exchange/boundary.ts";
import type { Candle } from "../../marketdata/candles.ts";
import type { DepthLevel } from "../../marketdata/depth.ts";
import type { PublicTrade } from "../../marketdata/trades.ts";
import { formatUnits, MAX_DECIMAL_SCALE } from "../../units/decimal.ts";
import { binanceStpName } from "./order-params.ts";

/** Decimals past the tick written for averages (weightedAvgPrice, avgPrice), rounded down. */
const AVERAGE_EXTRA_DECIMALS = 4;

/** The symbol as Binance writes it: base + quote, no separator (BTC_USD → BTCUSD). */
export function binanceSymbol(market: MarketContext): string {
  return `${market.base.code}${market.quote.code}`;
}

/** An exact ratio of ticks as a price, rounded down at tick precision + AVERAGE_EXTRA_DECIMALS. */
export function ratioPrice(market: MarketContext, numeratorTicks: bigint, denominator: bigint): string {
  const units = market.units;
  const scale = Math.min(MAX_DECIMAL_SCALE, units.pricePrecision + AVERAGE_EXTRA_DECIMALS);
  if (denominator === 0n) return formatUnits(0n, scale);
  const steps =
    (numeratorTicks * units.priceStepsPerTick * 10n ** BigInt(scale - units.pricePrecision)) / denominator;
  return formatUnits(steps, scale);
}

/** The tick (PRICE_FILTER tickSize) as a decimal. */
export function tickSize(market: MarketContext): string {
  return formatUnits(market.units.priceStepsPerTick, market.units.pricePrecision);
}

/** The lot (LOT_SIZE stepSize) as a decimal. */
export function stepSize(market: MarketContext): string {
  return market.units.formatQuantity(1);
}

export function exchangeInfoSymbol(market: MarketContext, trading: boolean) {
  const units = market.units;
  const quantityFilter = { minQty: units.minQuantity, maxQty: units.maxQuantity, stepSize: stepSize(market) };
  return {
    symbol: binanceSymbol(market),
    status: trading ? "TRADING" : "BREAK",
    baseAsset: market.base.code,
    baseAssetPrecision: market.base.scale,
    quoteAsset: market.quote.code,
    quotePrecision: market.quote.scale,
    quoteAssetPrecision: market.quote.scale,
    baseCommissionPrecision: market.base.scale,
    quoteCommissionPrecision: market.quote.scale,
    orderTypes: ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS"],
    icebergAllowed: false,
    ocoAllowed: false,
    otoAllowed: false,
    quoteOrderQtyMarketAllowed: true,
    allowTrailingStop: false,
    cancelReplaceAllowed: false,
    amendAllowed: false,
    isSpotTradingAllowed: true,
    isMarginTradingAllowed: false,
    filters: [
      {
        filterType: "PRICE_FILTER",
        minPrice: units.minPrice,
        maxPrice: units.maxPrice,
        tickSize: tickSize(market),
      },
      { filterType: "LOT_SIZE", ...quantityFilter },
      { filterType: "MARKET_LOT_SIZE", ...quantityFilter },
      {
        filterType: "NOTIONAL",
        minNotional: units.minAmount,
        applyMinToMarket: true,
        maxNotional: units.maxAmount,
        applyMaxToMarket: true,
        avgPriceMins: 5,
      },
    ],
    permissions: [],
    permissionSets: [["SPOT"]],
    defaultSelfTradePreventionMode: binanceStpName(market.config.selfTradePrevention),
    allowedSelfTradePreventionModes: ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
  };
}

export function depthLevels(market: MarketContext, levels: readonly DepthLevel[]): [string, string][] {
  return levels.map((level) => [
    market.units.formatPrice(level.priceTicks),
    market.units.formatQuantity(level.quantityLots),
  ]);
}

export function formatTrade(market: MarketContext, trade: PublicTrade) {
  return {
    id: trade.tradeId,
    price: market.units.formatPrice(trade.priceTicks),
    qty: market.units.formatQuantity(trade.quantityLots),
    quoteQty: market.units.formatQuote(trade.notionalUnits),
    time: trade.timestampMs,
    // The taker sold: the buyer's order was resting.
    isBuyerMaker: trade.takerSide === "sell",
    isBestMatch: true,
  };
}

/** One trade as an aggregate trade of itself (first and last trade id are its own). */
export function formatAggTrade(market: MarketContext, trade: PublicTrade) {
  return {
    a: trade.tradeId,
    p: market.units.formatPrice(trade.priceTicks),
    q: market.units.formatQuantity(trade.quantityLots),
    f: trade.tradeId,
    l: trade.tradeId,
    T: trade.timestampMs,
    m: trade.takerSide === "sell",
    M: true,
  };
}

/**
 * A kline: [open time, open, high, low, close, volume, close time, quote volume, trades,
 * taker-buy base, taker-buy quote, ignore]. Bulwark's candles keep OHLC and base volume only:
 * the quote volume, trade count and taker-buy volumes are written "0"/0 (docs/API.md#binance-spot).
 */
export function formatKline(market: MarketContext, candle: Candle, closeTimeMs: number) {
  const units = market.units;
  return [
    candle.openTimeMs,
    units.formatPrice(candle.openTicks),
    units.formatPrice(candle.highTicks),
    units.formatPrice(candle.lowTicks),
    units.formatPrice(candle.closeTicks),
    units.formatBase(candle.volumeLots * units.lotSizeBaseUnits),
    closeTimeMs,
    "0",
    0,
    "0",
    "0",
    "0",
  ];
}
