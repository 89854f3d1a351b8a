// The reference core's data: plain objects and arrays, no indexes, and the small pure helpers
// both its checks (place-order-checks.ts) and its execution (reference-core.ts) use.

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
