// The reference core's data: plain objects and arrays, no indexes, and the small pure helpers
// both its checks (place-order-checks.ts) and its execution (the other files) use.

import type { MarketStatus, Side } from "../commands.ts";
import { MAX_USER_ID, type MarketConfig, type SelfTradePrevention } from "../config.ts";

/** `mulDivCeil(x, n, d)`: the exact ceiling of x·n/d, computed in bigint so it cannot round. */
export function referenceMulDivCeil(x: number, n: number, d: number): number {
  const product = BigInt(x) * BigInt(n);
  const quotient = product / BigInt(d);
  const ceil = quotient * BigInt(d) === product ? quotient : quotient + 1n;
  return Number(ceil);
}

export interface RestingOrder {
  orderId: number;
  userId: number;
  side: Side;
  priceTicks: number;
  remainingLots: number;
  clientOrderId: number;
  selfTradePrevention: SelfTradePrevention;
}

export interface StopOrder {
  orderId: number;
  userId: number;
  side: Side;
  triggerPriceTicks: number;
  quantityLots: number;
  heldUnits: number;
  clientOrderId: number;
  selfTradePrevention: SelfTradePrevention;
}

export interface Market {
  config: MarketConfig;
  status: MarketStatus;
  lastPriceTicks: number;
  /** Both sides, in no particular order: every lookup scans the whole array. */
  resting: RestingOrder[];
  stops: StopOrder[];
}

export interface UserBalance {
  available: number;
  held: number;
}

export function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

export function isValidUserId(userId: number): boolean {
  return isIntegerIn(userId, 1, MAX_USER_ID);
}

export function opposite(side: Side): Side {
  return side === "buy" ? "sell" : "buy";
}

export function crosses(side: Side, limitPriceTicks: number, makerPriceTicks: number): boolean {
  return side === "buy" ? makerPriceTicks <= limitPriceTicks : makerPriceTicks >= limitPriceTicks;
}

/** A resting limit buy holds remaining × limitPrice × unit quote, a resting sell remaining × lot base. */
export function restingHold(cfg: MarketConfig, order: RestingOrder): number {
  return order.side === "buy"
    ? order.remainingLots * order.priceTicks * cfg.quoteUnitsPerTickLot
    : order.remainingLots * cfg.lotSizeBaseUnits;
}

/** One side of a book, best first: bids price descending, asks ascending; oldest (lowest id) first. */
export function sortedSide(market: Market, side: Side): RestingOrder[] {
  return market.resting
    .filter((o) => o.side === side)
    .sort((a, b) => {
      if (a.priceTicks !== b.priceTicks) {
        return side === "buy" ? b.priceTicks - a.priceTicks : a.priceTicks - b.priceTicks;
      }
      return a.orderId - b.orderId;
    });
}

export function bestOrder(market: Market, side: Side): RestingOrder | undefined {
  return sortedSide(market, side)[0];
}

/** A copy with exactly the fields of MarketConfig. */
export function copyMarketConfig(m: MarketConfig): MarketConfig {
  return {
    marketId: m.marketId,
    symbol: m.symbol,
    baseAssetId: m.baseAssetId,
    quoteAssetId: m.quoteAssetId,
    lotSizeBaseUnits: m.lotSizeBaseUnits,
    quoteUnitsPerTickLot: m.quoteUnitsPerTickLot,
    minPriceTicks: m.minPriceTicks,
    maxPriceTicks: m.maxPriceTicks,
    minQuantityLots: m.minQuantityLots,
    maxQuantityLots: m.maxQuantityLots,
    minNotionalUnits: m.minNotionalUnits,
    maxNotionalUnits: m.maxNotionalUnits,
    makerFeePpm: m.makerFeePpm,
    takerFeePpm: m.takerFeePpm,
    stopBuySlippageBps: m.stopBuySlippageBps,
    selfTradePrevention: m.selfTradePrevention,
  };
}
