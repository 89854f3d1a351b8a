// Chain amounts (bigint base units: satoshi, wei, a token's smallest unit) ↔ ledger units (an
// integer number in the asset's scale, ≤ 18 decimals, as the core keeps them). Custody converts
// at the boundary; the core never sees a bigint. Pure.
//
// Rounding is explicit and always toward the exchange: a deposit is credited rounded DOWN, and what
// is cut off (dust, less than one ledger unit) comes back as a bigint so custody records it; a
// withdrawal's ledger amount converts to chain units exactly when the chain has at least the
// ledger's decimals, else rounded down with the remainder returned. Results are checked to stay
// within 2^53 − 1 ledger units; anything else throws a RangeError.

import { MAX_SAFE_UNITS } from "../core/config.ts";

/** The ledger's largest scale (assetConfigProblem allows 0..18). */
export const MAX_LEDGER_SCALE = 18;
/** The largest chain decimals accepted (ETH has 18; no chain in sight has more than 36). */
export const MAX_CHAIN_DECIMALS = 36;

const MAX_SAFE_BIG = BigInt(MAX_SAFE_UNITS);

export interface ChainToLedger {
  /** Whole ledger units, rounded down. */
  units: number;
  /** Chain base units below one ledger unit that were not credited (0n when the conversion is exact). */
  dustBaseUnits: bigint;
}

export interface LedgerToChain {
  baseUnits: bigint;
  /** Ledger units below one chain base unit that could not be sent (0 when exact). */
  remainderUnits: number;
}

function checkDecimals(chainDecimals: number, scale: number): void {
  if (!Number.isInteger(chainDecimals) || chainDecimals < 0 || chainDecimals > MAX_CHAIN_DECIMALS)
    throw new RangeError(`chain decimals must be an integer in 0..${MAX_CHAIN_DECIMALS}`);
  if (!Number.isInteger(scale) || scale < 0 || scale > MAX_LEDGER_SCALE)
    throw new RangeError(`ledger scale must be an integer in 0..${MAX_LEDGER_SCALE}`);
}

/** Chain base units → ledger units, rounded down; the dust is returned, never dropped. */
export function chainToLedger(baseUnits: bigint, chainDecimals: number, scale: number): ChainToLedger {
  checkDecimals(chainDecimals, scale);
  if (typeof baseUnits !== "bigint" || baseUnits < 0n)
    throw new RangeError("chain amount must be a bigint ≥ 0");
  let units: bigint;
  let dustBaseUnits = 0n;
  if (chainDecimals >= scale) {
    const step = 10n ** BigInt(chainDecimals - scale);
    units = baseUnits / step;
    dustBaseUnits = baseUnits - units * step;
  } else {
    units = baseUnits * 10n ** BigInt(scale - chainDecimals);
  }
  if (units > MAX_SAFE_BIG) throw new RangeError("amount beyond 2^53 - 1 ledger units");
  return { units: Number(units), dustBaseUnits };
}

/** Ledger units → chain base units, exact when the chain has at least the ledger's decimals, else rounded down. */
export function ledgerToChain(units: number, chainDecimals: number, scale: number): LedgerToChain {
  checkDecimals(chainDecimals, scale);
  if (!Number.isSafeInteger(units) || units < 0)
    throw new RangeError("ledger amount must be a safe integer ≥ 0");
  const big = BigInt(units);
  if (chainDecimals >= scale)
    return { baseUnits: big * 10n ** BigInt(chainDecimals - scale), remainderUnits: 0 };
  const step = 10n ** BigInt(scale - chainDecimals);
  const baseUnits = big / step;
  return { baseUnits, remainderUnits: Number(big - baseUnits * step) };
}
