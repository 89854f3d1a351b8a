// One market's conversions between wire decimals and the core's integers: prices in ticks,
// quantities in lots, money in ledger units. Built once per market from its config; every
// method is pure.
//
// A tick as a decimal price is quoteUnitsPerTickLot × 10^(baseScale − quoteScale) / lotSizeBaseUnits
// (quote per base); a lot is lotSizeBaseUnits × 10^−baseScale base. The tick is kept as an
// exact integer count of 10^−pricePrecision steps, so no conversion ever rounds.

import {
  type AssetConfig,
  assetConfigProblem,
  type MarketConfig,
  marketConfigProblem,
  PPM,
} from "../core/config.ts";
import {
  type DecimalResult,
  formatUnits,
  MAX_DECIMAL_SCALE,
  parseDecimal,
  parseDecimalBig,
} from "./decimal.ts";

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
/** Decimal places of a fee percent: 1 ppm = 0.0001 %. */
const PERCENT_SCALE_OF_PPM = 4;

export type LimitProblem = "belowMin" | "aboveMax";

/** The tick written as `stepsPerTick` × 10^−precision, with the smallest such precision. */
interface DecimalTick {
  precision: number;
  stepsPerTick: bigint;
}

/**
 * Finds the fewest decimal places that write numerator / denominator exactly, up to
 * MAX_DECIMAL_SCALE; null when the quotient needs more (e.g. a tick of 1/3).
 */
function exactDecimal(numerator: bigint, denominator: bigint): DecimalTick | null {
  let scaled = numerator;
  for (let precision = 0; precision <= MAX_DECIMAL_SCALE; precision++) {
    if (scaled % denominator === 0n) return { precision, stepsPerTick: scaled / denominator };
    scaled *= 10n;
  }
  return null;
}

/** EXMO's `commission_*_percent` text for a fee in parts per million: 2000 ppm → "0.2". */
export function feePercentText(feePpm: number): string {
  if (!Number.isSafeInteger(feePpm) || feePpm < 0 || feePpm >= PPM) {
    throw new RangeError(`fee must be an integer in 0..${PPM - 1} ppm, got ${feePpm}`);
  }
  return formatUnits(feePpm, PERCENT_SCALE_OF_PPM);
}

function limitProblem(value: number, min: number, max: number): LimitProblem | null {
  if (value < min) return "belowMin";
  if (value > max) return "aboveMax";
  return null;
}

/** Narrows a bigint already known to be ≤ MAX_SAFE_INTEGER to the core's number type. */
function toSafeNumber(result: DecimalResult<bigint>): DecimalResult<number> {
  if (!result.ok) return result;
  if (result.value > MAX_SAFE_BIG) return { ok: false, failure: "tooLarge" };
  return { ok: true, value: Number(result.value) };
}

export class MarketUnits {
  readonly symbol: string;
  readonly baseScale: number;
  readonly quoteScale: number;
  /** Decimals of the tick: pair_settings `price_precision`. */
  readonly pricePrecision: number;
  /** The tick, in 10^−pricePrecision steps of the price. */
  readonly priceStepsPerTick: bigint;
  readonly lotSizeBaseUnits: bigint;
  readonly quoteUnitsPerTickLot: bigint;
  /** pair_settings strings. */
  readonly minPrice: string;
  readonly maxPrice: string;
  readonly minQuantity: string;
  readonly maxQuantity: string;
  readonly minAmount: string;
  readonly maxAmount: string;
  readonly makerFeePercent: string;
  readonly takerFeePercent: string;
  private readonly market: MarketConfig;

  /** Throws if the configs are unusable, do not belong together, or the tick needs more than 18 decimals. */
  constructor(market: MarketConfig, base: AssetConfig, quote: AssetConfig) {
    const problem = marketConfigProblem(market) ?? assetConfigProblem(base) ?? assetConfigProblem(quote);
    if (problem !== null) throw new Error(`market ${market.symbol}: ${problem}`);
    if (market.baseAssetId !== base.assetId || market.quoteAssetId !== quote.assetId) {
      throw new Error(`market ${market.symbol}: base/quote asset configs do not match its asset ids`);
    }
    const scaleDifference = base.scale - quote.scale;
    const numerator = BigInt(market.quoteUnitsPerTickLot) * 10n ** BigInt(Math.max(0, scaleDifference));
    const denominator = BigInt(market.lotSizeBaseUnits) * 10n ** BigInt(Math.max(0, -scaleDifference));
    const tick = exactDecimal(numerator, denominator);
    if (tick === null) {
      throw new Error(
        `market ${market.symbol}: tick is not a decimal with at most ${MAX_DECIMAL_SCALE} places`,
      );
    }
    this.market = market;
    this.symbol = market.symbol;
    this.baseScale = base.scale;
    this.quoteScale = quote.scale;
    this.pricePrecision = tick.precision;
    this.priceStepsPerTick = tick.stepsPerTick;
    this.lotSizeBaseUnits = BigInt(market.lotSizeBaseUnits);
    this.quoteUnitsPerTickLot = BigInt(market.quoteUnitsPerTickLot);
    this.minPrice = this.formatPrice(market.minPriceTicks);
    this.maxPrice = this.formatPrice(market.maxPriceTicks);
    this.minQuantity = this.formatQuantity(market.minQuantityLots);
    this.maxQuantity = this.formatQuantity(market.maxQuantityLots);
    this.minAmount = this.formatQuote(market.minNotionalUnits);
    this.maxAmount = this.formatQuote(market.maxNotionalUnits);
    this.makerFeePercent = feePercentText(market.makerFeePpm);
    this.takerFeePercent = feePercentText(market.takerFeePpm);
  }

  /** Price text → ticks. A price between two ticks is `tooPrecise`; "0" is 0 ticks (EXMO's market-order price). */
  parsePrice(text: string): DecimalResult<number> {
    const steps = parseDecimalBig(text, this.pricePrecision, {
      maxUnits: MAX_SAFE_BIG * this.priceStepsPerTick,
    });
    if (!steps.ok) return steps;
    if (steps.value % this.priceStepsPerTick !== 0n) return { ok: false, failure: "tooPrecise" };
    return toSafeNumber({ ok: true, value: steps.value / this.priceStepsPerTick });
  }

  formatPrice(priceTicks: number): string {
    return formatUnits(
      BigInt(checkCount(priceTicks, "priceTicks")) * this.priceStepsPerTick,
      this.pricePrecision,
    );
  }

  /** Base quantity text → lots. A quantity that is not a whole number of lots is `tooPrecise`. */
  parseQuantity(text: string): DecimalResult<number> {
    const baseUnits = parseDecimalBig(text, this.baseScale, {
      maxUnits: MAX_SAFE_BIG * this.lotSizeBaseUnits,
    });
    if (!baseUnits.ok) return baseUnits;
    if (baseUnits.value % this.lotSizeBaseUnits !== 0n) return { ok: false, failure: "tooPrecise" };
    return toSafeNumber({ ok: true, value: baseUnits.value / this.lotSizeBaseUnits });
  }

  formatQuantity(quantityLots: number): string {
    return formatUnits(
      BigInt(checkCount(quantityLots, "quantityLots")) * this.lotSizeBaseUnits,
      this.baseScale,
    );
  }

  /** Quote money text → quote ledger units: the `quantity` of market_buy_total / market_sell_total. */
  parseQuoteAmount(text: string): DecimalResult<number> {
    return parseDecimal(text, this.quoteScale);
  }

  formatQuote(quoteUnits: number | bigint): string {
    return formatUnits(quoteUnits, this.quoteScale);
  }

  formatBase(baseUnits: number | bigint): string {
    return formatUnits(baseUnits, this.baseScale);
  }

  /** Quote units of `quantityLots` at `priceTicks`: the EXMO `amount` of an order or trade. */
  notionalUnits(priceTicks: number, quantityLots: number): bigint {
    return (
      BigInt(checkCount(priceTicks, "priceTicks")) *
      BigInt(checkCount(quantityLots, "quantityLots")) *
      this.quoteUnitsPerTickLot
    );
  }

  /** Which side of [minPriceTicks, maxPriceTicks] a price falls outside, for errors 50319 / 50321. */
  priceLimitProblem(priceTicks: number): LimitProblem | null {
    return limitProblem(priceTicks, this.market.minPriceTicks, this.market.maxPriceTicks);
  }

  quantityLimitProblem(quantityLots: number): LimitProblem | null {
    return limitProblem(quantityLots, this.market.minQuantityLots, this.market.maxQuantityLots);
  }

  notionalLimitProblem(notionalUnits: number | bigint): LimitProblem | null {
    const value = BigInt(notionalUnits);
    if (value < BigInt(this.market.minNotionalUnits)) return "belowMin";
    if (value > BigInt(this.market.maxNotionalUnits)) return "aboveMax";
    return null;
  }
}

function checkCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
  }
  return value;
}
