// Core integers → the `data` of EXMO WS frames (EXMO_API.md §6.3). Decimals come only from
// MarketUnits / formatUnits, written the way the REST answers write them (§3: decimal strings,
// seconds for `date`/`created`/`updated`), so a value reads the same over REST and WS.

import type { MarketContext } from "../../app/exchange.ts";
import type { AssetConfig } from "../../core/config.ts";
import type { DepthLevel } from "../../marketdata/depth.ts";
import type { Ticker } from "../../marketdata/ticker.ts";
import type { PublicTrade } from "../../marketdata/trades.ts";
import { formatUnits, MAX_DECIMAL_SCALE } from "../../units/decimal.ts";

/** Extra decimals an average price gets beyond the tick (same rule as REST `ticker.avg`). */
const AVERAGE_EXTRA_DECIMALS = 8;
const MS_PER_SECOND = 1000;

export function seconds(timestampMs: number): number {
  return Math.floor(timestampMs / MS_PER_SECOND);
}

/** An exact ratio of ticks as a price, rounded down at tick precision + AVERAGE_EXTRA_DECIMALS. */
function ratioPrice(market: MarketContext, numerator: bigint, denominator: bigint): string {
  if (denominator === 0n) return "0";
  const units = market.units;
  const scale = Math.min(MAX_DECIMAL_SCALE, units.pricePrecision + AVERAGE_EXTRA_DECIMALS);
  const steps =
    (numerator * units.priceStepsPerTick * 10n ** BigInt(scale - units.pricePrecision)) / denominator;
  return formatUnits(steps, scale);
}

/** The REST `ticker` row of the pair, which is also the WS `spot/ticker` data. */
export function tickerData(market: MarketContext, ticker: Ticker): Record<string, string | number> {
  const units = market.units;
  return {
    buy_price: units.formatPrice(ticker.bestBidTicks),
    sell_price: units.formatPrice(ticker.bestAskTicks),
    last_trade: units.formatPrice(ticker.lastPriceTicks),
    high: units.formatPrice(ticker.highTicks),
    low: units.formatPrice(ticker.lowTicks),
    avg: ratioPrice(market, ticker.averagePriceTicks.numerator, ticker.averagePriceTicks.denominator),
    vol: units.formatBase(ticker.volumeBaseLots * units.lotSizeBaseUnits),
    vol_curr: units.formatQuote(ticker.volumeQuoteUnits),
    updated: seconds(ticker.updatedMs),
  };
}

export function publicTradeData(market: MarketContext, trade: PublicTrade): Record<string, string | number> {
  const units = market.units;
  return {
    trade_id: trade.tradeId,
    type: trade.takerSide,
    price: units.formatPrice(trade.priceTicks),
    quantity: units.formatQuantity(trade.quantityLots),
    amount: units.formatQuote(trade.notionalUnits),
    date: seconds(trade.timestampMs),
  };
}

/** `[price, quantity, amount]`; a level whose quantity is 0 reads "0","0": EXMO's delete. */
export function bookLevel(market: MarketContext, level: DepthLevel): [string, string, string] {
  const units = market.units;
  return [
    units.formatPrice(level.priceTicks),
    units.formatQuantity(level.quantityLots),
    units.formatQuote(units.notionalUnits(level.priceTicks, level.quantityLots)),
  ];
}

export function bookData(
  market: MarketContext,
  bids: readonly DepthLevel[],
  asks: readonly DepthLevel[],
): { ask: [string, string, string][]; bid: [string, string, string][] } {
  return {
    ask: asks.map((level) => bookLevel(market, level)),
    bid: bids.map((level) => bookLevel(market, level)),
  };
}

export function assetAmount(asset: AssetConfig, units: number): string {
  return formatUnits(units, asset.scale);
}
