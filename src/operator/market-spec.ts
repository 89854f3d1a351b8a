// Operators describe assets and markets in human units ("tick 0.01 USD, lot 0.0001 BTC, fees in
// percent"); the core wants integers (ledger units, ticks, lots, ppm). Every conversion here is
// exact: a value that is not a whole number of the target unit is refused, never rounded.

import {
  type AssetConfig,
  assetConfigProblem,
  type MarketConfig,
  marketConfigProblem,
  SELF_TRADE_PREVENTIONS,
  type SelfTradePrevention,
} from "../core/config.ts";
import { type DecimalFailure, MAX_DECIMAL_SCALE, parseDecimal, parseDecimalBig } from "../units/decimal.ts";
import { MarketUnits } from "../units/market-units.ts";

/** Fee percent with 4 decimals is exactly parts per million: 0.2 % = 2000 ppm. */
const PERCENT_DECIMALS_OF_PPM = 4;
const DEFAULT_STOP_SLIPPAGE_BPS = 500;

export class SpecError extends Error {}

export interface AssetSpec {
  code: string;
  /** Decimal places of one ledger unit. */
  scale: number;
}

export interface MarketSpec {
  base: string;
  quote: string;
  /** Price step, in quote per base: "0.01". */
  tick: string;
  /** Quantity step, in base: "0.0001". */
  lot: string;
  minPrice: string;
  maxPrice: string;
  minQuantity: string;
  maxQuantity: string;
  /** In quote: "1". */
  minNotional: string;
  maxNotional: string;
  /** Percent: "0.2". */
  makerFeePercent: string;
  takerFeePercent: string;
  stopBuySlippageBps?: number;
  selfTradePrevention?: string;
}

export function assetConfigFromSpec(spec: AssetSpec, assetId: number): AssetConfig {
  const asset: AssetConfig = { assetId, code: spec.code, scale: spec.scale };
  const problem = assetConfigProblem(asset);
  if (problem !== null) throw new SpecError(`asset ${spec.code}: ${problem}`);
  return asset;
}

function failureText(failure: DecimalFailure): string {
  switch (failure) {
    case "malformed":
      return "is not a decimal number";
    case "tooPrecise":
      return "is not a whole number of the unit";
    case "negative":
      return "must not be negative";
    case "tooLarge":
      return "is too large";
  }
}

function unitsOf(name: string, text: string, scale: number): bigint {
  const parsed = parseDecimalBig(text, scale, { maxUnits: BigInt(Number.MAX_SAFE_INTEGER) });
  if (!parsed.ok) throw new SpecError(`${name} ${text} ${failureText(parsed.failure)} (scale ${scale})`);
  return parsed.value;
}

function checked(name: string, text: string, result: ReturnType<typeof parseDecimal>): number {
  if (!result.ok) throw new SpecError(`${name} ${text} ${failureText(result.failure)}`);
  return result.value;
}

/**
 * quoteUnitsPerTickLot = tick × lot in quote ledger units. With tick = t / 10^d quote per base and
 * lot = L base units (10^-baseScale base): t × L × 10^quoteScale / (10^d × 10^baseScale).
 */
function quoteUnitsPerTickLot(
  spec: MarketSpec,
  lotUnits: bigint,
  base: AssetConfig,
  quote: AssetConfig,
): number {
  const tickDecimals = significantDecimals(spec.tick);
  // The units code works in scales 0..18 (asset scales); a finer tick is an input problem, not a
  // server fault (it used to escape as a RangeError and answer HTTP 500).
  if (tickDecimals > MAX_DECIMAL_SCALE)
    throw new SpecError(`tick ${spec.tick} has more than ${MAX_DECIMAL_SCALE} decimal places`);
  const tickSteps = unitsOf("tick", spec.tick, tickDecimals);
  if (tickSteps <= 0n) throw new SpecError("tick must be positive");
  const numerator = tickSteps * lotUnits * 10n ** BigInt(quote.scale);
  const denominator = 10n ** BigInt(tickDecimals + base.scale);
  if (numerator % denominator !== 0n)
    throw new SpecError(
      `tick ${spec.tick} × lot ${spec.lot} is not a whole number of ${quote.code} units (scale ${quote.scale}); ` +
        "use a larger tick or lot",
    );
  const units = numerator / denominator;
  if (units > BigInt(Number.MAX_SAFE_INTEGER)) throw new SpecError("tick × lot is too large");
  return Number(units);
}

/** Decimal places of a decimal text once trailing zeros are dropped ("0.0100" → 2); 0 for malformed text. */
function significantDecimals(text: string): number {
  const match = /^-?[0-9]+\.([0-9]+)$/.exec(text);
  return match === null ? 0 : match[1].replace(/0+$/, "").length;
}

function selfTradePrevention(text: string | undefined): SelfTradePrevention {
  if (text === undefined) return "cancelResting";
  const found = SELF_TRADE_PREVENTIONS.find((value) => value === text);
  if (found === undefined)
    throw new SpecError(`selfTradePrevention must be one of ${SELF_TRADE_PREVENTIONS.join(", ")}`);
  return found;
}

export function marketConfigFromSpec(
  spec: MarketSpec,
  marketId: number,
  base: AssetConfig,
  quote: AssetConfig,
): MarketConfig {
  try {
    return buildMarketConfig(spec, marketId, base, quote);
  } catch (error) {
    // Every value here is operator input: a RangeError from the units code (a scale or magnitude
    // it cannot represent) is a refusal of that input, reported as such, never a server fault.
    if (error instanceof RangeError)
      throw new SpecError(`market ${base.code}_${quote.code}: ${error.message}`);
    throw error;
  }
}

function buildMarketConfig(
  spec: MarketSpec,
  marketId: number,
  base: AssetConfig,
  quote: AssetConfig,
): MarketConfig {
  const lotUnits = unitsOf("lot", spec.lot, base.scale);
  if (lotUnits <= 0n) throw new SpecError("lot must be positive");
  // A provisional config with trivially valid bounds gives a MarketUnits to parse prices and
  // quantities with the market's own tick and lot; the real bounds replace them below.
  const provisional: MarketConfig = {
    marketId,
    symbol: `${base.code}_${quote.code}`,
    baseAssetId: base.assetId,
    quoteAssetId: quote.assetId,
    lotSizeBaseUnits: Number(lotUnits),
    quoteUnitsPerTickLot: quoteUnitsPerTickLot(spec, lotUnits, base, quote),
    minPriceTicks: 1,
    maxPriceTicks: 1,
    minQuantityLots: 1,
    maxQuantityLots: 1,
    minNotionalUnits: 0,
    maxNotionalUnits: 1,
    makerFeePpm: checked(
      "maker fee",
      spec.makerFeePercent,
      parseDecimal(spec.makerFeePercent, PERCENT_DECIMALS_OF_PPM),
    ),
    takerFeePpm: checked(
      "taker fee",
      spec.takerFeePercent,
      parseDecimal(spec.takerFeePercent, PERCENT_DECIMALS_OF_PPM),
    ),
    stopBuySlippageBps: spec.stopBuySlippageBps ?? DEFAULT_STOP_SLIPPAGE_BPS,
    selfTradePrevention: selfTradePrevention(spec.selfTradePrevention),
  };
  const early = marketConfigProblem(provisional);
  if (early !== null) throw new SpecError(`market ${provisional.symbol}: ${early}`);
  let units: MarketUnits;
  try {
    units = new MarketUnits(provisional, base, quote);
  } catch (error) {
    throw new SpecError(error instanceof Error ? error.message : String(error));
  }
  const market: MarketConfig = {
    ...provisional,
    minPriceTicks: checked("min price", spec.minPrice, units.parsePrice(spec.minPrice)),
    maxPriceTicks: checked("max price", spec.maxPrice, units.parsePrice(spec.maxPrice)),
    minQuantityLots: checked("min quantity", spec.minQuantity, units.parseQuantity(spec.minQuantity)),
    maxQuantityLots: checked("max quantity", spec.maxQuantity, units.parseQuantity(spec.maxQuantity)),
    minNotionalUnits: Number(unitsOf("min notional", spec.minNotional, quote.scale)),
    maxNotionalUnits: Number(unitsOf("max notional", spec.maxNotional, quote.scale)),
  };
  const problem = marketConfigProblem(market);
  if (problem !== null) throw new SpecError(`market ${market.symbol}: ${problem}`);
  return market;
}
