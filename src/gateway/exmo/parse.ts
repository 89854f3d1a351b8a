// Wire text → core integers for EXMO parameters, with the failure mapped to the error table:
// syntax problems are "invalid syntax" (BadRequest), limit problems the InvalidOrder codes of the
// pair's limit, so ccxt raises what the problem is.

import type { MarketContext } from "../../exchange/boundary.ts";
import type { DecimalResult } from "../../units/decimal.ts";
import { ExmoFailure } from "./route.ts";

const UNSIGNED_INTEGER = /^(0|[1-9][0-9]{0,15})$/;

/** A non-negative safe integer written in plain decimal (ids, limits, offsets, timestamps). */
export function parseInteger(field: string, value: string, min: number, max: number): number {
  if (!UNSIGNED_INTEGER.test(value)) throw new ExmoFailure("invalidParameter", field);
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max)
    throw new ExmoFailure("invalidParameter", field);
  return parsed;
}

export function optionalInteger(
  field: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  return value === undefined ? fallback : parseInteger(field, value, min, max);
}

/** A private endpoint's pair: an unknown one is an error (public endpoints leave it out instead). */
export function requireMarket(
  lookup: (symbol: string) => MarketContext | undefined,
  symbol: string,
): MarketContext {
  const market = lookup(symbol);
  if (market === undefined) throw new ExmoFailure("unknownPair", symbol);
  return market;
}

type Bound = "priceTooHigh" | "quantityTooHigh" | "amountOutOfRange";

function unwrap(
  result: DecimalResult<number>,
  field: string,
  market: MarketContext,
  tooLarge: Bound,
): number {
  if (result.ok) return result.value;
  if (result.failure === "tooPrecise")
    throw new ExmoFailure("tooPrecise", `${field} for pair ${market.units.symbol}`);
  if (result.failure === "tooLarge") throw new ExmoFailure(tooLarge);
  throw new ExmoFailure("invalidParameter", field);
}

/** Price text → ticks inside the pair's limits. */
export function parseLimitPrice(market: MarketContext, field: string, value: string): number {
  const ticks = unwrap(market.units.parsePrice(value), field, market, "priceTooHigh");
  const problem = market.units.priceLimitProblem(ticks);
  if (problem === "belowMin") throw new ExmoFailure("priceTooLow");
  if (problem === "aboveMax") throw new ExmoFailure("priceTooHigh");
  return ticks;
}

/** Base quantity text → lots inside the pair's limits. */
export function parseQuantityLots(market: MarketContext, field: string, value: string): number {
  const lots = unwrap(market.units.parseQuantity(value), field, market, "quantityTooHigh");
  const problem = market.units.quantityLimitProblem(lots);
  if (problem === "belowMin") throw new ExmoFailure("quantityTooLow");
  if (problem === "aboveMax") throw new ExmoFailure("quantityTooHigh");
  return lots;
}

/** Quote money text (market_*_total `quantity`) → quote units inside the pair's amount limits. */
export function parseQuoteAmount(market: MarketContext, field: string, value: string): number {
  const units = unwrap(market.units.parseQuoteAmount(value), field, market, "amountOutOfRange");
  if (market.units.notionalLimitProblem(units) !== null) throw new ExmoFailure("amountOutOfRange");
  return units;
}

/** Checks price × quantity against the pair's amount limits (limit and stop orders). */
export function checkNotional(market: MarketContext, priceTicks: number, quantityLots: number): void {
  if (market.units.notionalLimitProblem(market.units.notionalUnits(priceTicks, quantityLots)) !== null)
    throw new ExmoFailure("amountOutOfRange");
}

/** A comma-separated list of pair ids, at most `max`, each non-empty; duplicates collapse. */
export function parsePairList(field: string, value: string, max: number): string[] {
  const pairs = value.split(",");
  if (pairs.length > max || pairs.some((pair) => pair.length === 0))
    throw new ExmoFailure("invalidParameter", field);
  return [...new Set(pairs)];
}
