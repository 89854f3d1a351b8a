// Custody's settings per chain and currency, with the defaults of docs/SECURITY.md: confirmations,
// minimums, the exchange's withdrawal fee, per-user and platform limits, the approval threshold,
// and the hot wallet's cap, target and floor as shares of customer liabilities.
//
// Ledger amounts are integer units of the asset's scale (the core's); chain amounts are bigint base
// units. Shares are basis points (1 bps = 0.01 %). Figures are written as exact decimal text.

import { parseDecimal } from "../units/decimal.ts";

export interface CurrencyCustodyConfig {
  /** Exchange currency code, also the chain asset symbol (BTC, ETH, USDT). */
  currency: string;
  /** The network name clients see in payments/providers/crypto/list. */
  network: string;
  /** Smallest deposit credited, ledger units. */
  minDepositUnits: number;
  /** Smallest withdrawal (the fee included), ledger units. */
  minWithdrawUnits: number;
  /** Largest single withdrawal, ledger units. */
  maxWithdrawUnits: number;
  /** The exchange's flat withdrawal fee, ledger units (covers the network fee it pays). */
  withdrawFeeUnits: number;
  /** Per user: sums of requested withdrawals over 24 h and 30 days, ledger units. */
  userLimit24hUnits: number;
  userLimit30dUnits: number;
  /** Everyone together per rolling hour, ledger units. */
  platformHourlyLimitUnits: number;
  /** At or above this a withdrawal waits for two approvers. */
  approvalThresholdUnits: number;
  /** Hot wallet bounds as shares of this currency's customer liabilities, basis points. */
  hotCapBps: number;
  hotTargetBps: number;
  hotFloorBps: number;
  /**
   * Hot-wallet bounds never go below these (a young exchange with few liabilities still needs a
   * working hot wallet), ledger units.
   */
  hotCapMinimumUnits: number;
  /** Deposit addresses are swept to hot once they hold at least this, ledger units. */
  sweepThresholdUnits: number;
}

export interface ChainCustodyConfig {
  /** Chain id, as the adapter names it (devnet-btc, devnet-eth, ethereum, bitcoin-mainnet). */
  chain: string;
  /** Confirmations before a deposit is credited and a withdrawal settled. */
  confirmations: number;
  currencies: CurrencyCustodyConfig[];
  /** Intents expire this long after they are made. */
  intentLifetimeMs: number;
}

export const DEFAULT_HOT_CAP_BPS = 200;
export const DEFAULT_HOT_TARGET_BPS = 100;
export const DEFAULT_HOT_FLOOR_BPS = 50;
/** The signer's 10-minute budget: ≤ 0.25 % of liabilities (docs/SECURITY.md), with a floor. */
export const DEFAULT_SIGNER_10M_BPS = 25;
/** The withdrawal flow steps forward this often at most (and on every new block). */
export const DEFAULT_TICK_MS = 1_000;
/** Address-book activation delay outside demo mode; demo mode uses a minute. */
export const DEMO_ADDRESS_ACTIVATION_DELAY_MS = 60_000;

/** A currency's terms in whole coins, as exact decimal text (converted once, at the asset's scale). */
export interface CurrencyTermsText {
  minDeposit: string;
  minWithdraw: string;
  maxWithdraw: string;
  fee: string;
  user24h: string;
  user30d: string;
  platformHourly: string;
  approval: string;
  hotMinimum: string;
  sweepThreshold: string;
}

function units(name: string, whole: string, scale: number): number {
  const parsed = parseDecimal(whole, scale);
  if (!parsed.ok)
    throw new RangeError(`custody config: ${name} ${whole} at scale ${scale}: ${parsed.failure}`);
  return parsed.value;
}

/** One currency's settings from its decimal terms, at the ledger scale of the exchange's asset. */
export function currencyConfig(
  currency: string,
  network: string,
  scale: number,
  whole: CurrencyTermsText,
): CurrencyCustodyConfig {
  const at = (name: keyof CurrencyTermsText) => units(name, whole[name], scale);
  return {
    currency,
    network,
    minDepositUnits: at("minDeposit"),
    minWithdrawUnits: at("minWithdraw"),
    maxWithdrawUnits: at("maxWithdraw"),
    withdrawFeeUnits: at("fee"),
    userLimit24hUnits: at("user24h"),
    userLimit30dUnits: at("user30d"),
    platformHourlyLimitUnits: at("platformHourly"),
    approvalThresholdUnits: at("approval"),
    hotCapBps: DEFAULT_HOT_CAP_BPS,
    hotTargetBps: DEFAULT_HOT_TARGET_BPS,
    hotFloorBps: DEFAULT_HOT_FLOOR_BPS,
    hotCapMinimumUnits: at("hotMinimum"),
    sweepThresholdUnits: at("sweepThreshold"),
  };
}

// Approval thresholds sit at half the hot cap's minimum, which is also the floor of the signer's
// 10-minute budget (src/server/custody.ts signerCapsOf): on a young exchange, or a fresh demo whose
// signers start before any coins are credited, the largest withdrawal the signer can sign is that
// floor, so a withdrawal above the threshold (two approvers) still fits and settles once approved.
// Lowering the threshold, rather than raising the floor, keeps the theft bound where it was.
export const BTC_TERMS: CurrencyTermsText = {
  minDeposit: "0.0001",
  minWithdraw: "0.001",
  maxWithdraw: "5",
  fee: "0.0005",
  user24h: "10",
  user30d: "100",
  platformHourly: "50",
  approval: "0.5",
  hotMinimum: "1",
  sweepThreshold: "0.001",
};

export const ETH_TERMS: CurrencyTermsText = {
  minDeposit: "0.001",
  minWithdraw: "0.01",
  maxWithdraw: "100",
  fee: "0.005",
  user24h: "200",
  user30d: "2000",
  platformHourly: "1000",
  approval: "10",
  hotMinimum: "20",
  sweepThreshold: "0.01",
};

export const USDT_TERMS: CurrencyTermsText = {
  minDeposit: "1",
  minWithdraw: "10",
  maxWithdraw: "200000",
  fee: "5",
  user24h: "500000",
  user30d: "5000000",
  platformHourly: "2000000",
  approval: "25000",
  hotMinimum: "50000",
  sweepThreshold: "10",
};

/** Ledger scales of the exchange's default assets (src/server/default-markets.ts). */
export const BTC_SCALE = 8;
export const ETH_SCALE = 8;
export const USDT_SCALE = 6;

/** The embedded devnet chains' custody settings. */
export function devnetCustodyConfigs(): ChainCustodyConfig[] {
  return [
    {
      chain: "devnet-btc",
      confirmations: 2,
      intentLifetimeMs: 10 * 60_000,
      currencies: [currencyConfig("BTC", "BTC", BTC_SCALE, BTC_TERMS)],
    },
    {
      chain: "devnet-eth",
      confirmations: 3,
      intentLifetimeMs: 10 * 60_000,
      currencies: [
        currencyConfig("ETH", "ETH", ETH_SCALE, ETH_TERMS),
        currencyConfig("USDT", "ERC20", USDT_SCALE, USDT_TERMS),
      ],
    },
  ];
}

/** Hot-wallet bounds of a currency for the current liabilities, ledger units. */
export function hotBounds(
  config: CurrencyCustodyConfig,
  customerLiabilitiesUnits: number,
): { capUnits: number; targetUnits: number; floorUnits: number } {
  // The minimum lifts target and floor in proportion, so floor < target < cap always holds.
  const base = Math.max(
    Math.floor((customerLiabilitiesUnits * config.hotCapBps) / 10_000),
    config.hotCapMinimumUnits,
  );
  const share = (bps: number) => Math.floor((base * bps) / config.hotCapBps);
  return { capUnits: base, targetUnits: share(config.hotTargetBps), floorUnits: share(config.hotFloorBps) };
}
