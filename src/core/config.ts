// Static configuration of assets and markets, and the arithmetic limits that keep every
// money computation inside the safe-integer range of a JavaScript number.

/** Largest integer a double holds exactly (2^53 - 1). Every ledger amount stays at or below it. */
export const MAX_SAFE_UNITS = Number.MAX_SAFE_INTEGER;
/** Prices and quantities are stored in Uint32 columns of the order pool. */
export const MAX_UINT32 = 0xffff_ffff;
/** Fees are given in parts per million of the received amount. */
export const PPM = 1_000_000;
/** Basis points: 1/10,000. */
export const BPS = 10_000;

export type SelfTradePrevention = "cancelResting" | "cancelIncoming" | "cancelBoth";
export const SELF_TRADE_PREVENTIONS: readonly SelfTradePrevention[] = [
  "cancelResting",
  "cancelIncoming",
  "cancelBoth",
];

export interface AssetConfig {
  /** Dense id, 1..maxAssets, assigned by the operator in order. */
  assetId: number;
  /** Ticker, e.g. "BTC". Upper case letters and digits, 1..16 characters. */
  code: string;
  /** Decimal places of one ledger unit: 8 means 1 unit = 0.00000001 of the asset. */
  scale: number;
}

export interface MarketConfig {
  /** Dense id, 1..maxMarkets. */
  marketId: number;
  /** EXMO pair id, e.g. "BTC_USD". */
  symbol: string;
  baseAssetId: number;
  quoteAssetId: number;
  /** Base ledger units in one lot: quantities are whole lots. */
  lotSizeBaseUnits: number;
  /** Quote ledger units that one lot costs at a price of one tick: notional = priceTicks * lots * this. */
  quoteUnitsPerTickLot: number;
  minPriceTicks: number;
  maxPriceTicks: number;
  minQuantityLots: number;
  maxQuantityLots: number;
  /** Bounds on price * quantity, in quote ledger units. */
  minNotionalUnits: number;
  maxNotionalUnits: number;
  makerFeePpm: number;
  takerFeePpm: number;
  /** A stop-market buy holds its trigger notional plus this much; when fired it spends at most the hold. */
  stopBuySlippageBps: number;
  /** Policy used when an order does not name one. */
  selfTradePrevention: SelfTradePrevention;
}

/** Limits of the core itself: every table and loop in it is bounded by one of these. */
export interface CoreLimits {
  maxAssets: number;
  maxMarkets: number;
  maxUsers: number;
  maxOpenOrdersPerUser: number;
  maxStopOrdersPerMarket: number;
  /** Orders (resting and stop) across all markets: sizes the order pool and id index. */
  maxOpenOrders: number;
  maxCommandsPerBatch: number;
  /**
   * Withdrawal holds pending at once (wallet/withdrawal-holds.ts). No sum can overflow: each hold
   * is a safe integer ≤ the user's available, and holdWithdrawal refuses (limitReached) a hold
   * that would take the user's held past MAX_SAFE_UNITS, so a user's holds plus their orders'
   * needs stay a safe integer; settling moves one hold into walletHot and fees, each checked to
   * stay within ±MAX_SAFE_UNITS first. The table itself is O(this) memory (≈ 100 B per hold).
   */
  maxPendingWithdrawals: number;
  /**
   * Credited deposits remembered for deduplication (wallet/deposit-keys.ts). A key is at most
   * 16 + 128 + 10 + 2 = 156 characters, so the set is bounded by ≈ 160 B × this (plus the Set's
   * overhead); past it creditDeposit answers limitReached instead of forgetting an old key, which
   * could credit a deposit twice.
   */
  maxDepositKeys: number;
  /**
   * API keys whose last nonce the core keeps (engine/api-nonces.ts): ≈ 100 B per key (a 42-character
   * id and a number, plus the Map's overhead); past it a new key's signed command is refused
   * (limitReached) rather than an old key's nonce forgotten.
   */
  maxApiKeyNonces: number;
}

export const DEFAULT_CORE_LIMITS: CoreLimits = {
  maxAssets: 256,
  maxMarkets: 1024,
  maxUsers: 10_000_000,
  maxOpenOrdersPerUser: 10_000,
  maxStopOrdersPerMarket: 100_000,
  maxOpenOrders: 16_000_000,
  maxCommandsPerBatch: 65_536,
  maxPendingWithdrawals: 1_000_000,
  maxDepositKeys: 4_000_000,
  maxApiKeyNonces: 2_000_000,
};

/** Largest user id: user ids live in Int32 columns. */
export const MAX_USER_ID = 0x7fff_ffff;

const ASSET_CODE = /^[A-Z0-9]{1,16}$/;
const SYMBOL = /^[A-Z0-9]{1,16}_[A-Z0-9]{1,16}$/;

function isSafeCount(value: number, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= min && value <= max;
}

/** Returns a reason the asset config is unusable, or null. Pure. */
export function assetConfigProblem(asset: AssetConfig): string | null {
  if (!isSafeCount(asset.assetId, 1, 0xffff)) return "assetId must be an integer in 1..65535";
  if (!ASSET_CODE.test(asset.code)) return "code must be 1..16 upper-case letters or digits";
  if (!isSafeCount(asset.scale, 0, 18)) return "scale must be an integer in 0..18";
  return null;
}

/**
 * Returns a reason the market config is unusable, or null. Pure. The checks make overflow
 * impossible: the largest notional of any order (and of a stop buy's hold with slippage)
 * fits in a safe integer, and prices and quantities fit the Uint32 order columns.
 */
export function marketConfigProblem(market: MarketConfig): string | null {
  if (!isSafeCount(market.marketId, 1, 0xffff)) return "marketId must be an integer in 1..65535";
  if (!SYMBOL.test(market.symbol)) return "symbol must look like BASE_QUOTE";
  if (market.baseAssetId === market.quoteAssetId) return "base and quote assets must differ";
  if (!isSafeCount(market.lotSizeBaseUnits, 1, MAX_UINT32)) return "lotSizeBaseUnits must be in 1..2^32-1";
  if (!isSafeCount(market.quoteUnitsPerTickLot, 1, MAX_UINT32))
    return "quoteUnitsPerTickLot must be in 1..2^32-1";
  if (!isSafeCount(market.minPriceTicks, 1, MAX_UINT32)) return "minPriceTicks must be in 1..2^32-1";
  if (!isSafeCount(market.maxPriceTicks, market.minPriceTicks, MAX_UINT32))
    return "maxPriceTicks must be in minPriceTicks..2^32-1";
  if (!isSafeCount(market.minQuantityLots, 1, MAX_UINT32)) return "minQuantityLots must be in 1..2^32-1";
  if (!isSafeCount(market.maxQuantityLots, market.minQuantityLots, MAX_UINT32))
    return "maxQuantityLots must be in minQuantityLots..2^32-1";
  if (!isSafeCount(market.minNotionalUnits, 0, MAX_SAFE_UNITS)) return "minNotionalUnits must be >= 0";
  if (!isSafeCount(market.maxNotionalUnits, Math.max(1, market.minNotionalUnits), MAX_SAFE_UNITS))
    return "maxNotionalUnits must be >= max(1, minNotionalUnits)";
  if (!isSafeCount(market.makerFeePpm, 0, PPM - 1)) return "makerFeePpm must be in 0..999999";
  if (!isSafeCount(market.takerFeePpm, 0, PPM - 1)) return "takerFeePpm must be in 0..999999";
  if (!isSafeCount(market.stopBuySlippageBps, 0, BPS)) return "stopBuySlippageBps must be in 0..10000";
  if (!SELF_TRADE_PREVENTIONS.includes(market.selfTradePrevention)) return "unknown selfTradePrevention";
  // Largest notional any single fill or order can reach, computed in bigint so the check itself cannot overflow.
  const largestNotional =
    BigInt(market.maxPriceTicks) * BigInt(market.maxQuantityLots) * BigInt(market.quoteUnitsPerTickLot);
  const largestStopHold = (largestNotional * BigInt(BPS + market.stopBuySlippageBps)) / BigInt(BPS) + 1n;
  // Twice the bound leaves room to add a hold to an existing balance before the balance check.
  if (largestStopHold * 2n > BigInt(MAX_SAFE_UNITS))
    return "maxPriceTicks * maxQuantityLots * quoteUnitsPerTickLot (with stop slippage) must stay below 2^52";
  const largestBaseAmount = BigInt(market.maxQuantityLots) * BigInt(market.lotSizeBaseUnits);
  if (largestBaseAmount * 2n > BigInt(MAX_SAFE_UNITS))
    return "maxQuantityLots * lotSizeBaseUnits must stay below 2^52";
  return null;
}
